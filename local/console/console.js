// The emulator's web console. It speaks the AppSync Events WebSocket protocol
// itself (PROTOCOL.md), so what works here works against the real service:
// connect auth in the `header-` subprotocol, per-frame authorization, `data.event`
// as a JSON string. Plain script, no build step, no framework.
(function () {
  'use strict';
  var boot = window.EVENTSOCK_BOOT || {};
  var $ = function (id) { return document.getElementById(id); };

  var ws = null;
  var subs = {}; // subscription id -> { channel, li }
  var pendingPublishes = {}; // publish id -> description
  var connected = false;

  var wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  $('endpoint').value = wsScheme + '//' + location.host + '/event/realtime';
  $('token').value = boot.devToken || '';
  if (boot.defaultNamespace) {
    $('sub-channel').value = '/' + boot.defaultNamespace + '/*';
    $('pub-channel').value = '/' + boot.defaultNamespace + '/room-1';
  }
  if (!boot.devApiKey) {
    // Not a loopback visitor: the server keeps the dev key to itself.
    $('pub-via').value = 'socket';
    $('pub-via').querySelector('option[value=api]').disabled = true;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'id-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
  }

  // base64url of UTF-8, no padding: the `header-` subprotocol's encoding.
  function b64url(text) {
    var bytes = new TextEncoder().encode(text);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function authorization() {
    return { host: location.host, Authorization: $('token').value.trim() };
  }

  function setStatus(text, cls) {
    var s = $('status');
    s.textContent = text;
    s.className = 'status ' + cls;
  }

  function show(kind, summary, body) {
    var li = document.createElement('li');
    li.className = kind;
    var k = document.createElement('span');
    k.className = 'kind';
    k.textContent = kind;
    var content = document.createElement('div');
    var head = document.createElement('div');
    head.textContent = summary;
    content.appendChild(head);
    if (body !== undefined) {
      var pre = document.createElement('pre');
      pre.textContent = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
      content.appendChild(pre);
    }
    li.appendChild(k);
    li.appendChild(content);
    var list = $('messages');
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 500) list.removeChild(list.lastChild);
  }

  function errorText(errors) {
    if (!Array.isArray(errors) || errors.length === 0) return 'unknown error';
    return errors.map(function (e) { return (e.errorType || 'Error') + ': ' + (e.message || ''); }).join('; ');
  }

  function setConnected(on) {
    connected = on;
    $('connect').disabled = on;
    $('disconnect').disabled = !on;
    $('subscribe').disabled = !on;
    $('watch').disabled = !on;
  }

  function pubResult(text, ok) {
    var r = $('pub-result');
    r.textContent = text;
    r.className = 'result ' + (ok ? 'ok' : 'bad');
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function connect() {
    var token = $('token').value.trim();
    if (!token) { setStatus('a token is needed', 'err'); return; }
    setStatus('connecting…', 'off');
    try {
      ws = new WebSocket($('endpoint').value.trim(), ['aws-appsync-event-ws', 'header-' + b64url(JSON.stringify(authorization()))]);
    } catch (e) {
      setStatus('bad endpoint', 'err');
      show('error', String(e && e.message || e));
      return;
    }
    ws.onopen = function () { send({ type: 'connection_init' }); };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { show('error', 'unparseable frame', String(ev.data)); return; }
      onFrame(msg);
    };
    ws.onclose = function (ev) {
      setConnected(false);
      setStatus('disconnected' + (ev.reason ? ': ' + ev.reason : ''), connected ? 'off' : 'off');
      Object.keys(subs).forEach(function (id) { subs[id].li.className = 'failed'; });
      members.socketClosed();
      ws = null;
    };
    ws.onerror = function () { setStatus('connection failed', 'err'); };
  }

  function onFrame(msg) {
    if (msg.id !== undefined && members.owns(msg.id)) { members.onFrame(msg); return; }
    switch (msg.type) {
      case 'connection_ack':
        setConnected(true);
        setStatus('connected', 'on');
        show('system', 'connected (connectionTimeoutMs ' + msg.connectionTimeoutMs + ')');
        return;
      case 'ka':
        $('status').title = 'last keep-alive ' + new Date().toLocaleTimeString();
        return;
      case 'connection_error':
        setStatus('refused', 'err');
        show('error', 'connection refused: ' + errorText(msg.errors));
        return;
      case 'subscribe_success':
        if (subs[msg.id]) subs[msg.id].li.className = 'active';
        show('system', 'subscribed to ' + (subs[msg.id] ? subs[msg.id].channel : msg.id));
        return;
      case 'subscribe_error':
        if (subs[msg.id]) { subs[msg.id].li.className = 'failed'; subs[msg.id].li.title = errorText(msg.errors); }
        show('error', 'subscribe ' + (subs[msg.id] ? subs[msg.id].channel : msg.id) + ' refused: ' + errorText(msg.errors));
        return;
      case 'unsubscribe_success':
        if (subs[msg.id]) { subs[msg.id].li.remove(); delete subs[msg.id]; }
        return;
      case 'data': {
        var sub = subs[msg.id];
        var payload = msg.event;
        // The service sends each event as a JSON string; tolerate an already-parsed one.
        if (typeof payload === 'string') { try { payload = JSON.parse(payload); } catch (e) { /* show raw */ } }
        var summary = payload && typeof payload === 'object' && payload.channel
          ? payload.channel + '  ' + (payload.event || '') + '  ' + (payload.id || '')
          : (sub ? sub.channel : msg.id);
        show('data', summary, payload);
        return;
      }
      case 'publish_success': {
        var failed = msg.failed || [];
        var ok = (msg.successful || []).length;
        pubResult('socket publish: ' + ok + ' accepted' + (failed.length ? ', ' + failed.length + ' failed: ' + failed.map(function (f) { return f.code + ' ' + (f.message || ''); }).join('; ') : ''), failed.length === 0);
        delete pendingPublishes[msg.id];
        return;
      }
      case 'publish_error':
        pubResult('socket publish refused: ' + errorText(msg.errors), false);
        delete pendingPublishes[msg.id];
        return;
      case 'error':
        show('error', errorText(msg.errors));
        return;
      default:
        show('system', 'frame ' + msg.type, msg);
    }
  }

  function subscribe() {
    var channel = $('sub-channel').value.trim();
    if (!channel) return;
    var id = newId();
    var li = document.createElement('li');
    li.className = 'pending';
    var name = document.createElement('span');
    name.textContent = channel;
    var btn = document.createElement('button');
    btn.className = 'small';
    btn.textContent = 'unsubscribe';
    btn.onclick = function () {
      if (connected) send({ type: 'unsubscribe', id: id });
      else { li.remove(); delete subs[id]; }
    };
    li.appendChild(name);
    li.appendChild(btn);
    li.dataset.channel = channel;
    $('subscriptions').appendChild(li);
    subs[id] = { channel: channel, li: li };
    send({ type: 'subscribe', id: id, channel: channel, authorization: authorization() });
  }

  function publish() {
    var channel = $('pub-channel').value.trim();
    var event = $('pub-event').value.trim();
    var data;
    try { data = JSON.parse($('pub-data').value || 'null'); } catch (e) { pubResult('data is not valid JSON: ' + e.message, false); return; }
    if ($('pub-via').value === 'socket') {
      if (!connected) { pubResult('connect first to publish over the socket', false); return; }
      var id = newId();
      pendingPublishes[id] = channel;
      send({ type: 'publish', id: id, channel: channel, events: [JSON.stringify({ event: event, data: data })], authorization: authorization() });
      return;
    }
    var body = { channel: channel, event: event, data: data };
    if ($('pub-store').checked) body.store = 3600;
    fetch('/publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + boot.devApiKey },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.text().then(function (text) {
        pubResult('publish API ' + res.status + ': ' + text, res.status < 300);
      });
    }).catch(function (e) { pubResult('publish API failed: ' + e.message, false); });
  }

  function history() {
    var channel = $('pub-channel').value.trim();
    fetch('/history?channel=' + encodeURIComponent(channel) + '&limit=50', {
      headers: { authorization: 'Bearer ' + $('token').value.trim() },
    }).then(function (res) {
      return res.text().then(function (text) {
        var body = text;
        try { body = JSON.parse(text); } catch (e) { /* keep text */ }
        show(res.status < 300 ? 'history' : 'error', 'history of ' + channel + ' (' + res.status + ')', body);
      });
    }).catch(function (e) { show('error', 'history failed: ' + e.message); });
  }


  // The members panel (members.js): its own subscription on this socket, and GET/POST /presence.
  var members = window.EventsockConsoleMembers({
    $: $, boot: boot, newId: newId, send: send, show: show, authorization: authorization, errorText: errorText,
    isConnected: function () { return connected; },
    isOpen: function () { return !!ws && ws.readyState === WebSocket.OPEN; },
  });

  $('connect').onclick = connect;
  $('disconnect').onclick = function () { if (ws) ws.close(1000, 'closed from the console'); };
  $('subscribe').onclick = subscribe;
  $('sub-channel').onkeydown = function (e) { if (e.key === 'Enter' && connected) subscribe(); };
  $('publish').onclick = publish;
  $('history').onclick = history;
  $('clear').onclick = function () { $('messages').textContent = ''; };
})();
