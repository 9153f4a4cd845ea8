// The console's members panel: a presence channel's members, live (functions/presence/service.ts)
// The list is GET /presence (every page) after the subscription is up, kept current by the
// channel's member_added / member_removed envelopes; the ones that arrive while the list is
// read are buffered and replayed on it, as client/presence.ts does. "join as" makes the
// console a member too: POST /presence join, a heartbeat every heartbeatSeconds the server
// answers with, leave on Stop, on a closed socket and when the page goes away.
// Loaded before console.js, which passes what the panel shares with the rest of the page.
(function () {
  'use strict';
  window.EventsockConsoleMembers = function (ctx) {
    var $ = ctx.$, boot = ctx.boot, newId = ctx.newId, send = ctx.send, show = ctx.show, authorization = ctx.authorization, errorText = ctx.errorText;

    // Members are only kept on namespaces with presence: start on the first such one.
    var withPresence = (boot.namespaces || []).filter(function (n) { return n.presence; })[0];
    if (boot.defaultNamespace) $('mem-channel').value = '/' + (withPresence ? withPresence.name : boot.defaultNamespace) + '/room-1';

    var MEMBER_ADDED = 'eventsock.member_added'; // functions/core/limits.ts (a plain script imports nothing)
    var MEMBER_REMOVED = 'eventsock.member_removed';
    var MEMBERS_CAP = 5000; // client/presence.ts CLIENT_MEMBERS_CAP: the list keeps the first ones (uid order) plus later joins
    var MEMBERS_PAGE = 500; // LIMITS.presenceMaxLimit
    // One member connection per page (8-64 of [A-Za-z0-9_-]), the same across watches.
    var presenceConnectionId = ('console-' + newId()).replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
    // The watched channel: { channel, id, members (uid -> member), pending (changes while the list loads, else null),
    // subscribed, joined, joinRefused, timer, heartbeatSeconds, chain (presence POSTs, in order), capped, serverCount }
    var watch = null;
    var retired = Object.create(null); // subscription ids of stopped watches whose unsubscribe is not answered yet

    function memStatus(text, ok) {
      var r = $('mem-status');
      r.textContent = text;
      r.className = 'result' + (ok === true ? ' ok' : ok === false ? ' bad' : '');
    }

    function joinStatus(text, ok) {
      var r = $('mem-join-status');
      r.textContent = text;
      r.className = 'result' + (ok === true ? ' ok' : ok === false ? ' bad' : '');
    }

    // The token's uid claim, for the "join as" label only (the token itself is never shown).
    // An Eventsock token is `es1.` + a JWT (functions/core/token-format.ts); a bare JWT works too.
    function tokenUid() {
      try {
        var parts = $('token').value.trim().split('.');
        var part = parts[parts.length - 2] || '';
        var bin = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
        var bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        var claims = JSON.parse(new TextDecoder().decode(bytes));
        return claims && typeof claims.uid === 'string' && claims.uid ? claims.uid : '';
      } catch (e) {
        return '';
      }
    }

    function updateJoinLabel() {
      var uid = tokenUid();
      $('mem-uid').textContent = uid || '(the token has no uid)';
    }

    // An error body ({ error: { code, message } }) or a channel's error in a POST answer, as "CODE: message".
    function refusalText(status, body, text) {
      var err = body && body.error;
      if (!err && body && Array.isArray(body.channels)) {
        for (var i = 0; i < body.channels.length; i++) if (body.channels[i] && body.channels[i].error) err = body.channels[i].error;
      }
      if (err && typeof err === 'object') return (err.code || 'ERROR') + ': ' + (err.message || '');
      if (status >= 300) return 'HTTP ' + status + (text ? ': ' + String(text).slice(0, 200) : '');
      return '';
    }

    function readJson(res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { /* reported by status */ }
        return { status: res.status, body: body, text: text };
      });
    }

    // Milliseconds of a ULID's time part (the envelope id), or now: a live join's "since".
    function ulidTime(id) {
      var digits = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
      if (typeof id !== 'string' || id.length !== 26) return Date.now();
      var t = 0;
      for (var i = 0; i < 10; i++) {
        var v = digits.indexOf(id.charAt(i).toUpperCase());
        if (v < 0) return Date.now();
        t = t * 32 + v;
      }
      return t;
    }

    function formatSince(since) {
      var d = new Date(since);
      if (isNaN(d.getTime())) return String(since || '');
      return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
    }

    function renderMembers() {
      var list = $('members');
      list.textContent = '';
      var w = watch;
      if (!w || w.pending) { $('mem-count').textContent = w ? 'loading…' : ''; return; }
      var uids = Object.keys(w.members).sort();
      uids.forEach(function (uid) {
        var m = w.members[uid];
        var li = document.createElement('li');
        li.dataset.uid = uid;
        var name = document.createElement('span');
        name.className = 'uid';
        name.textContent = uid;
        var umd = document.createElement('code');
        umd.className = 'umd';
        umd.textContent = m.umd === null || m.umd === undefined ? '' : JSON.stringify(m.umd);
        var since = document.createElement('time');
        since.className = 'since';
        if (m.since) {
          since.dateTime = String(m.since);
          since.textContent = formatSince(m.since);
          since.title = 'member since ' + m.since;
        }
        li.appendChild(name);
        li.appendChild(umd);
        li.appendChild(since);
        list.appendChild(li);
      });
      $('mem-count').textContent = uids.length + (uids.length === 1 ? ' member' : ' members') +
        (w.capped ? ' shown (the list keeps ' + MEMBERS_CAP + '; the channel had ' + w.serverCount + ' when it was read)' : '');
    }

    function applyChange(w, c) {
      if (!c.added) { delete w.members[c.uid]; return; }
      var old = w.members[c.uid];
      if (old) { old.umd = c.umd; return; }
      if (Object.keys(w.members).length >= MEMBERS_CAP) return;
      w.members[c.uid] = { uid: c.uid, umd: c.umd, since: c.since };
    }

    function watchMembers() {
      var channel = $('mem-channel').value.trim();
      if (!channel || !ctx.isConnected()) return;
      stopWatching();
      var w = { channel: channel, id: newId(), members: Object.create(null), pending: [], subscribed: false, joined: false, timer: null, heartbeatSeconds: 30, chain: Promise.resolve(), capped: false, serverCount: 0 };
      watch = w;
      $('unwatch').disabled = false;
      joinStatus('', null);
      memStatus('subscribing to ' + channel + '…', null);
      renderMembers();
      send({ type: 'subscribe', id: w.id, channel: channel, authorization: authorization() });
    }

    /** Stops the watch (leaving, when joined); `why`, when given, replaces the status line. */
    function stopWatching(why, ok) {
      var w = watch;
      if (!w) return;
      watch = null;
      if (w.joined) leavePresence(w);
      if (ctx.isOpen()) {
        retired[w.id] = true;
        send({ type: 'unsubscribe', id: w.id });
      }
      $('unwatch').disabled = true;
      renderMembers();
      if (why !== undefined) memStatus(why, ok);
    }

    function onWatchFrame(msg) {
      var w = watch && msg.id === watch.id ? watch : null;
      if (!w) {
        // A stopped watch: a late subscribe_success is unsubscribed again; the rest ends it.
        if (msg.type === 'subscribe_success') send({ type: 'unsubscribe', id: msg.id });
        else if (msg.type !== 'data') delete retired[msg.id];
        return;
      }
      switch (msg.type) {
        case 'subscribe_success':
          w.subscribed = true;
          memStatus('loading the members of ' + w.channel + '…', null);
          if ($('mem-join').checked) joinPresence(w);
          loadMembers(w);
          return;
        case 'subscribe_error':
          stopWatching('subscribe to ' + w.channel + ' refused: ' + errorText(msg.errors), false);
          return;
        case 'data': {
          var env = msg.event;
          if (typeof env === 'string') { try { env = JSON.parse(env); } catch (e) { return; } }
          if (!env || (env.event !== MEMBER_ADDED && env.event !== MEMBER_REMOVED)) return; // other messages: the Subscribe panel's job
          var d = env.data;
          if (!d || typeof d !== 'object' || typeof d.uid !== 'string') return;
          var change = { added: env.event === MEMBER_ADDED, uid: d.uid, umd: d.umd === undefined ? null : d.umd, since: new Date(ulidTime(env.id)).toISOString() };
          show('member', w.channel + '  ' + (change.added ? 'joined' : 'left') + '  ' + d.uid);
          if (w.pending) { w.pending.push(change); return; }
          applyChange(w, change);
          renderMembers();
          return;
        }
        default:
          return;
      }
    }

    function loadMembers(w) {
      var loaded = Object.create(null);
      var n = 0;
      function page(after) {
        var url = '/presence?channel=' + encodeURIComponent(w.channel) + '&limit=' + MEMBERS_PAGE + (after ? '&after=' + encodeURIComponent(after) : '');
        return fetch(url, { headers: { authorization: 'Bearer ' + $('token').value.trim() } }).then(readJson).then(function (r) {
          if (watch !== w) return;
          if (r.status >= 300 || !r.body || !Array.isArray(r.body.members)) {
            stopWatching('members of ' + w.channel + ' refused (' + r.status + ') ' + (refusalText(r.status, r.body, r.text) || 'no member list in the answer'), false);
            return;
          }
          w.serverCount = r.body.count;
          r.body.members.forEach(function (m) {
            if (m && typeof m.uid === 'string' && n < MEMBERS_CAP && !loaded[m.uid]) { loaded[m.uid] = m; n++; }
          });
          var next = r.body.next;
          if (typeof next === 'string' && next && next !== after && n < MEMBERS_CAP) return page(next);
          w.capped = typeof next === 'string' && next !== '';
          w.members = loaded;
          var pending = w.pending;
          w.pending = null;
          pending.forEach(function (c) { applyChange(w, c); });
          renderMembers();
          memStatus('watching ' + w.channel + ' live', true);
        });
      }
      page('').catch(function (e) {
        if (watch === w) stopWatching('members of ' + w.channel + ' failed: ' + (e && e.message || e), false);
      });
    }

    function postPresence(action, channel, opts) {
      return fetch('/presence', {
        method: 'POST',
        keepalive: !!(opts && opts.keepalive),
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + $('token').value.trim() },
        body: JSON.stringify({ action: action, channels: [channel], connectionId: presenceConnectionId }),
      }).then(readJson);
    }

    // join and heartbeats go one after another through w.chain, so a leave never overtakes its join.
    function joinPresence(w) {
      if (w.joined) return;
      w.joined = true;
      w.joinRefused = false;
      joinStatus('joining ' + w.channel + ' as ' + (tokenUid() || '?') + '…', null);
      beat(w, 'join');
    }

    function beat(w, action) {
      w.chain = w.chain.then(function () { return postPresence(action, w.channel); }).then(function (r) {
        var refused = r.status >= 300 || (r.body && Array.isArray(r.body.channels) && r.body.channels.some(function (c) { return c && c.error; }));
        if (refused && action === 'join') {
          // No member was made: a leave queued behind this join (Stop meanwhile) is skipped.
          w.joinRefused = true;
          w.joined = false;
          if (watch === w || watch === null) joinStatus('join of ' + w.channel + ' refused (' + r.status + ') ' + refusalText(r.status, r.body, r.text), false);
          return;
        }
        if (watch !== w || !w.joined) return;
        if (r.body && r.body.heartbeatSeconds > 0) w.heartbeatSeconds = r.body.heartbeatSeconds;
        if (refused) {
          joinStatus('heartbeat of ' + w.channel + ' refused (' + r.status + ') ' + refusalText(r.status, r.body, r.text), false);
        } else {
          joinStatus('member of ' + w.channel + ' as ' + (tokenUid() || '?') + ' (heartbeat every ' + w.heartbeatSeconds + ' s, last ' + new Date().toLocaleTimeString() + ')', true);
        }
        w.timer = setTimeout(function () { beat(w, 'heartbeat'); }, w.heartbeatSeconds * 1000);
      }, function (e) {
        if (watch !== w || !w.joined) return;
        // The next heartbeat tries again (the server keeps a member for two missed ones).
        joinStatus(action + ' failed: ' + (e && e.message || e), false);
        w.timer = setTimeout(function () { beat(w, 'heartbeat'); }, w.heartbeatSeconds * 1000);
      });
    }

    function leavePresence(w) {
      if (!w.joined) return;
      w.joined = false;
      clearTimeout(w.timer);
      w.chain = w.chain.then(function () {
        if (w.joinRefused) return null;
        return postPresence('leave', w.channel, { keepalive: true });
      }).then(function (r) {
        if (!r) return;
        var err = r.status >= 300 ? refusalText(r.status, r.body, r.text) : '';
        joinStatus(err ? 'leave of ' + w.channel + ' refused (' + r.status + ') ' + err : 'left ' + w.channel, !err);
      }, function (e) { joinStatus('leave of ' + w.channel + ' failed: ' + (e && e.message || e) + ' (the server drops the member after its timeout)', false); });
    }

    updateJoinLabel();
    $('token').addEventListener('input', updateJoinLabel);
    $('watch').onclick = watchMembers;
    $('unwatch').onclick = function () { stopWatching('stopped', null); };
    $('mem-channel').onkeydown = function (e) { if (e.key === 'Enter' && ctx.isConnected()) watchMembers(); };
    $('mem-join').onchange = function () {
      if (!watch || !watch.subscribed) return;
      if ($('mem-join').checked) joinPresence(watch);
      else leavePresence(watch);
    };
    // The page going away: leave at once (keepalive outlives the page; no waiting for the chain).
    window.addEventListener('pagehide', function () {
      var w = watch;
      if (!w || !w.joined) return;
      w.joined = false;
      clearTimeout(w.timer);
      postPresence('leave', w.channel, { keepalive: true }).catch(function () { /* the server's timeout removes it */ });
    });

    return {
      /** Frames of the panel's subscriptions (the live one, and stopped ones until their unsubscribe is answered). */
      owns: function (id) { return !!(retired[id] || (watch && id === watch.id)); },
      onFrame: onWatchFrame,
      socketClosed: function () {
        retired = Object.create(null);
        stopWatching('stopped: the socket closed', false);
      },
    };
  };
})();
