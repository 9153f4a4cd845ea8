/**
 * TLS for the emulator. Amplify JS (and some other AppSync Events clients) only
 * ever open wss:// (PROTOCOL.md, "Endpoints"), so `--tls` serves HTTPS/WSS with a
 * certificate the developer tells their client to trust once: we generate a
 * self-signed one for localhost / 127.0.0.1 / ::1 and keep it on disk, reusing it
 * on later starts so that trust survives restarts. A certificate of your own
 * (mkcert, a corporate CA) can be given instead.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { generate } from 'selfsigned';
import { EventsockError } from '../functions/core/errors';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Where the certificate is, for NODE_EXTRA_CA_CERTS and friends. */
  certFile: string;
  keyFile: string;
  /** True when this start created the certificate. */
  generated: boolean;
}

/** Names the generated certificate is valid for. */
export const LOCAL_NAMES = { dns: ['localhost'], ips: ['127.0.0.1', '::1'] };

/** Default folder for the generated pair (git-ignored). */
export const DEFAULT_TLS_DIR = '.eventsock/tls';

/** A generated certificate is replaced this long before it expires. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/** Generates a self-signed certificate for the local names, valid for `days`. */
export async function generateLocalCertificate(days = 365): Promise<{ cert: string; key: string }> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'Eventsock local emulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      // A CA flag lets browsers and OpenSSL accept it as its own trust anchor.
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...LOCAL_NAMES.dns.map((value) => ({ type: 2 as const, value })), ...LOCAL_NAMES.ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

function stillGood(certPem: string): boolean {
  try {
    const x = new X509Certificate(certPem);
    const notAfter = Date.parse(x.validTo);
    return notAfter - Date.now() > RENEW_BEFORE_MS && LOCAL_NAMES.ips.every((ip) => x.checkIP(ip) !== undefined) && x.checkHost('localhost') !== undefined;
  } catch {
    return false;
  }
}

/**
 * The certificate to serve: the given files, or the generated pair in `dir`
 * (created, or renewed when it is about to expire or does not cover the local names).
 */
export async function loadTls(opts: { certFile?: string; keyFile?: string; dir?: string } = {}): Promise<TlsMaterial> {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile) throw new EventsockError('TLS_CONFIG', '--key was given without --cert', { field: 'cert' });
    if (!opts.keyFile) throw new EventsockError('TLS_CONFIG', '--cert was given without --key', { field: 'key' });
    const certFile = resolve(opts.certFile);
    const keyFile = resolve(opts.keyFile);
    const cert = readPem(certFile, 'cert', 'CERTIFICATE');
    const key = readPem(keyFile, 'key', 'PRIVATE KEY');
    return { cert, key, certFile, keyFile, generated: false };
  }
  const dir = resolve(opts.dir ?? DEFAULT_TLS_DIR);
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    if (stillGood(cert)) return { cert, key: readFileSync(keyFile, 'utf8'), certFile, keyFile, generated: false };
  }
  const { cert, key } = await generateLocalCertificate();
  mkdirSync(dirname(certFile), { recursive: true });
  writeFileSync(keyFile, key, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  writeFileSync(certFile, cert);
  return { cert, key, certFile, keyFile, generated: true };
}

function readPem(file: string, field: string, label: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EventsockError('TLS_CONFIG', `--${field} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { field });
  }
  if (!text.includes(label)) throw new EventsockError('TLS_CONFIG', `--${field} ${file} holds no PEM ${label}`, { field });
  return text;
}
