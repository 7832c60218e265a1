// Where the webhook's serving certificate comes from: files polled for
// changes (OLM, cert-manager) or a pair set in process (self-managed, tests).
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';

export interface CertificatePair {
  cert: string;
  key: string;
}

/** Where the serving certificate comes from (files, or the self-managed Secret). */
export interface CertificateSource {
  /** Resolves with the first valid pair; calls `onChange` with every later one. */
  start(onChange: (pair: CertificatePair) => void): Promise<CertificatePair>;
  stop(): Promise<void>;
}

/** The subset of the framework Logger this file uses (winston's Logger satisfies it). */
export interface WebhookLog {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
}

/** Rejects a mismatched or unparsable pair before it replaces a working one. */
export function validateCertificatePair(pair: CertificatePair): void {
  createSecureContext({ cert: pair.cert, key: pair.key });
}

/**
 * tls.crt / tls.key in a directory (OLM's and cert-manager's mount), polled
 * for changes. Kubernetes updates a Secret volume by swapping a symlink, which
 * inotify-based watchers miss on some filesystems; a stat poll does not.
 */
export class FileCertificateSource implements CertificateSource {
  readonly #certFile: string;
  readonly #keyFile: string;
  readonly #intervalMs: number;
  readonly #log: WebhookLog | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastSignature = '';

  constructor(opts: { dir?: string; certFile?: string; keyFile?: string; pollIntervalMs?: number; log?: WebhookLog }) {
    this.#certFile = opts.certFile ?? join(opts.dir ?? '', 'tls.crt');
    this.#keyFile = opts.keyFile ?? join(opts.dir ?? '', 'tls.key');
    this.#intervalMs = opts.pollIntervalMs ?? 10_000;
    this.#log = opts.log;
  }

  async start(onChange: (pair: CertificatePair) => void): Promise<CertificatePair> {
    const first = await this.#read();
    if (!first) throw new Error(`no serving certificate: cannot read a valid pair from ${this.#certFile} and ${this.#keyFile}`);
    this.#lastSignature = first.signature;
    // own timer, not the leader-only work queue: every replica serves with these files
    this.#timer = setInterval(() => {
      void this.#poll(onChange);
    }, this.#intervalMs);
    this.#timer.unref();
    return first.pair;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #poll(onChange: (pair: CertificatePair) => void): Promise<void> {
    const next = await this.#read();
    if (!next || next.signature === this.#lastSignature) return;
    this.#lastSignature = next.signature;
    this.#log?.info('webhook serving certificate reloaded from files', { certFile: this.#certFile });
    onChange(next.pair);
  }

  /** The pair and a change signature, or undefined when the files are missing or (mid-update) do not match. */
  async #read(): Promise<{ pair: CertificatePair; signature: string } | undefined> {
    try {
      const [cert, key] = await Promise.all([fs.readFile(this.#certFile, 'utf8'), fs.readFile(this.#keyFile, 'utf8')]);
      const pair = { cert, key };
      validateCertificatePair(pair);
      // Content, not mtime: a copy with the same bytes is not a change, and a
      // same-second rewrite is still seen.
      return { pair, signature: `${cert.length}:${cert}` };
    } catch (err) {
      this.#log?.warn('webhook serving certificate files not usable yet', { certFile: this.#certFile, error: (err as Error).message });
      return undefined;
    }
  }
}

/** A source whose pair the caller sets (tests, and the self-managed manager). */
export class StaticCertificateSource implements CertificateSource {
  #pair: CertificatePair;
  #onChange: ((pair: CertificatePair) => void) | undefined;
  constructor(pair: CertificatePair) {
    this.#pair = pair;
  }
  async start(onChange: (pair: CertificatePair) => void): Promise<CertificatePair> {
    this.#onChange = onChange;
    return this.#pair;
  }
  async stop(): Promise<void> {
    this.#onChange = undefined;
  }
  set(pair: CertificatePair): void {
    validateCertificatePair(pair);
    this.#pair = pair;
    this.#onChange?.(pair);
  }
}
