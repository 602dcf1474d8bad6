import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Logger } from '../agent/log.js';
import { defaultConfig, Redactor, type Config } from '../config/index.js';
import { StateStore } from '../store/index.js';
import { VERSION } from '../version.js';
import { signBody, verifySignature, WebhookSender, type RetrySettings, type WebhookBody } from './webhook.js';

const root = mkdtempSync(join(tmpdir(), 'nrdot-webhook-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `s${++n}`, 'state');

const SECRET = 'hunter2-THE-SECRET';
/** A Slack-style URL path: the path is a credential, and must never be logged. */
const PATH = '/services/T000/B000/PATHTOKEN123';
const HOST = 'web-01';
/** Quick retries: 50 ms, then 100 ms, ... (no jitter: random() is 0.5). */
const QUICK: RetrySettings = { initialSeconds: 0.05, maxSeconds: 1, giveUpAfterSeconds: 60 };
/** Everything the outbox holds that is not delivered, given-up alerts included. */
const ALL = Number.MAX_SAFE_INTEGER;

interface Received {
  headers: IncomingHttpHeaders;
  body: Buffer;
  path: string;
  at: number;
}
/** status 0: no answer at all (the request hangs until the client gives up). */
type Answer = { status: number; headers?: Record<string, string>; body?: string };

/** A webhook receiver on loopback that records each request and answers as told. */
class Receiver {
  readonly requests: Received[] = [];
  private readonly waiting: Array<{ count: number; resolve: () => void }> = [];

  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(answer: (r: Received, index: number) => Answer = () => ({ status: 200 }), port = 0): Promise<Receiver> {
    let self: Receiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: Received = { headers: req.headers, body: Buffer.concat(chunks), path: req.url ?? '', at: Date.now() };
        const a = answer(received, self!.requests.length);
        self!.requests.push(received);
        if (a.status === 0) return;
        res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
        res.end(a.body ?? '', () => self!.answered());
      });
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    self = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  get url(): string {
    return this.origin + PATH;
  }

  /** Resolves once `count` requests have been answered. */
  answeredCount(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ count, resolve }));
  }

  private answered(): void {
    for (const w of this.waiting.filter((w) => this.requests.length >= w.count)) {
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve();
    }
  }

  async close(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
    await once(this.server, 'close');
  }
}

type Line = Record<string, unknown> & { level: number; msg: string };

/** A real pino logger writing into memory, with a way to await a line. */
function captureLog(): { log: Logger; lines: Line[]; text: () => string; line: (test: (l: Line) => boolean) => Promise<Line> } {
  const lines: Line[] = [];
  let text = '';
  const waiting: Array<{ test: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  const log = pino(
    { level: 'debug' },
    {
      write(s: string): void {
        text += s;
        const line = JSON.parse(s) as Line;
        lines.push(line);
        for (const w of waiting.filter((w) => w.test(line))) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(line);
        }
      },
    },
  );
  return {
    log,
    lines,
    text: () => text,
    line: (test) => {
      const seen = lines.find(test);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiting.push({ test, resolve }));
    },
  };
}

/** A port nothing listens on (a receiver that is down). */
async function closedPort(): Promise<number> {
  const r = await Receiver.start();
  const port = Number(new URL(r.origin).port);
  await r.close();
  return port;
}

/** The agent's redaction for these webhooks, as the daemon builds it from its configuration. */
const redactorFor = (webhooks: Config['webhooks']): Redactor => Redactor.of({ ...defaultConfig(), webhooks }, {});

function sender(store: StateStore, url: string, log: Logger, extra: { secret?: string; retry?: RetrySettings; timeoutMs?: number } = {}): WebhookSender {
  const hook = extra.secret === undefined ? { url } : { url, secret: extra.secret };
  const webhooks = { profile_change: hook, rollback: hook, budget_exceeded: hook };
  return new WebhookSender({
    store,
    webhooks,
    redactor: redactorFor(webhooks),
    host: HOST,
    log,
    retry: extra.retry ?? QUICK,
    timeoutMs: extra.timeoutMs ?? 2000,
    random: () => 0.5,
  });
}

describe('signatures', () => {
  it('are GitHub-style sha256=<hex HMAC-SHA256>, and verify only with the secret and the exact bytes', () => {
    const body = '{"event":"rollback"}';
    // openssl dgst -sha256 -hmac key <<< -n '{"event":"rollback"}'
    assert.match(signBody('key', body), /^sha256=[0-9a-f]{64}$/);
    assert.equal(signBody('key', Buffer.from(body)), signBody('key', body));
    assert.ok(verifySignature('key', body, signBody('key', body)));
    assert.ok(verifySignature('key', body, signBody('key', body).toUpperCase().replace('SHA256=', 'sha256=')));
    assert.ok(!verifySignature('other', body, signBody('key', body)));
    assert.ok(!verifySignature('key', `${body} `, signBody('key', body)));
    assert.ok(!verifySignature('key', body, undefined));
    assert.ok(!verifySignature('key', body, 'sha256=abc'));
    assert.ok(!verifySignature('key', body, signBody('key', body).replace('sha256=', 'sha1=')));
  });
});

describe('WebhookSender', { timeout: 20_000 }, () => {
  it('posts a signed JSON body that the receiver verifies with the secret', async () => {
    const receiver = await Receiver.start();
    const store = StateStore.open(fresh());
    const { log } = captureLog();
    const s = sender(store, receiver.url, log, { secret: SECRET });
    const details = { from: 'balanced', to: 'aggressive', reason: 'cost above budget', who: 'control_loop' };
    const id = s.raise('profile_change', details, 1_764_115_200);
    assert.equal(typeof id, 'number');
    await s.drain();

    assert.equal(receiver.requests.length, 1);
    const [r] = receiver.requests as [Received];
    assert.equal(r.path, PATH);
    assert.ok(verifySignature(SECRET, r.body, r.headers['x-nrdot-signature'] as string), 'the signature verifies with the secret');
    assert.ok(!verifySignature('not-the-secret', r.body, r.headers['x-nrdot-signature'] as string));
    const body = JSON.parse(r.body.toString()) as WebhookBody;
    assert.deepEqual(Object.keys(body), ['id', 'event', 'host', 'time', 'details']);
    assert.equal(body.event, 'profile_change');
    assert.equal(r.headers['x-nrdot-event'], body.event);
    assert.equal(body.host, HOST);
    assert.equal(body.time, '2025-11-26T00:00:00.000Z');
    assert.deepEqual(body.details, details);
    assert.equal(body.id, `${HOST}-${id}`);
    assert.equal(r.headers['x-nrdot-delivery'], body.id);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['user-agent'], `nrdot-plus/${VERSION}`);
    assert.deepEqual(s.stats, { delivered: 1, failed: 0, pending: 0 });
    assert.deepEqual(store.pendingAlerts(ALL, 10), [], 'nothing left in the outbox');

    await s.stop();
    store.close();
    await receiver.close();
  });

  it('retries 500s with backoff and delivers once, with the same bytes and id each time', async () => {
    const receiver = await Receiver.start((_r, i) => (i < 2 ? { status: 500, body: 'database is down' } : { status: 200 }));
    const store = StateStore.open(fresh());
    const capture = captureLog();
    const s = sender(store, receiver.url, capture.log, { secret: SECRET });
    s.start();
    s.raise('rollback', { to: 'conservative', reason: 'coverage below 0.9' });
    await receiver.answeredCount(3);
    await s.stop(); // waits for the third attempt to be recorded

    assert.equal(receiver.requests.length, 3);
    const [a, b, c] = receiver.requests as [Received, Received, Received];
    assert.ok(b.at - a.at >= 50, `second attempt ${b.at - a.at} ms after the first: backoff is 50 ms`);
    assert.ok(c.at - b.at >= 100, `third attempt ${c.at - b.at} ms after the second: backoff doubles to 100 ms`);
    assert.ok(a.body.equals(b.body) && b.body.equals(c.body), 'every attempt sends the same bytes');
    assert.equal(new Set(receiver.requests.map((r) => r.headers['x-nrdot-delivery'])).size, 1, 'one delivery id');
    assert.ok(receiver.requests.every((r) => verifySignature(SECRET, r.body, r.headers['x-nrdot-signature'] as string)));
    assert.deepEqual(s.stats, { delivered: 1, failed: 0, pending: 0 });
    assert.deepEqual(store.pendingAlerts(ALL, 10), []);
    const warnings = capture.lines.filter((l) => l.level === 40 && l.alert_id !== undefined);
    assert.equal(warnings.length, 1, 'one warning for two 500s of the same alert');
    assert.match(warnings[0]!.msg, /^webhook rollback: alert \d+ not delivered to http:\/\/127\.0\.0\.1:\d+: HTTP 500 \(database is down\); retrying/);
    assert.ok(capture.lines.some((l) => /delivered to .* after 3 attempts/.test(l.msg)));

    store.close();
    await receiver.close();
  });

  it('waits as long as Retry-After says on a 429', async () => {
    const receiver = await Receiver.start((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
    const store = StateStore.open(fresh());
    const s = sender(store, receiver.url, captureLog().log);
    s.start();
    s.raise('budget_exceeded', { cost_per_hour: 0.5, budget: 0.2 });
    await receiver.answeredCount(2);
    await s.stop();
    const [a, b] = receiver.requests as [Received, Received];
    assert.ok(b.at - a.at >= 1000, `retried ${b.at - a.at} ms later, Retry-After: 1`);
    assert.equal(s.stats.delivered, 1);
    store.close();
    await receiver.close();
  });

  it('retries a request left unanswered beyond the timeout', async () => {
    const receiver = await Receiver.start((_r, i) => ({ status: i === 0 ? 0 : 200 }));
    const store = StateStore.open(fresh());
    const capture = captureLog();
    const s = sender(store, receiver.url, capture.log, { timeoutMs: 200 });
    s.start();
    const id = s.raise('profile_change', {});
    const timedOut = await capture.line((l) => l.alert_id === id);
    assert.equal(timedOut.error_type, 'timeout');
    assert.match(timedOut.msg, /no answer within 200 ms \(it will be sent again with the same id/);
    await receiver.answeredCount(2);
    await s.stop();
    assert.equal(s.stats.delivered, 1);
    store.close();
    await receiver.close();
  });

  it('loses nothing across a restart while the receiver is down', async () => {
    const port = await closedPort();
    const dir = fresh();
    const url = `http://127.0.0.1:${port}${PATH}`;
    const first = captureLog();
    let store = StateStore.open(dir);
    let s = sender(store, url, first.log, { secret: SECRET });
    s.start();
    const id = s.raise('profile_change', { from: 'balanced', to: 'emergency' }, 1_764_115_260);
    const warning = await first.line((l) => l.alert_id === id);
    assert.match(warning.msg, /ECONNREFUSED/);
    await s.stop();
    store.close();
    assert.equal(s.stats.delivered, 0);

    // The agent starts again; the receiver is back.
    const receiver = await Receiver.start(() => ({ status: 200 }), port);
    store = StateStore.open(dir);
    s = sender(store, url, captureLog().log, { secret: SECRET });
    assert.equal(s.stats.pending, 1, 'the alert waits in the outbox');
    s.start();
    await receiver.answeredCount(1);
    await s.stop();
    const r = receiver.requests[0]!;
    const body = JSON.parse(r.body.toString()) as WebhookBody;
    assert.equal(body.id, `${HOST}-${id}`);
    assert.equal(body.time, '2025-11-26T00:01:00.000Z');
    assert.deepEqual(body.details, { from: 'balanced', to: 'emergency' });
    assert.ok(verifySignature(SECRET, r.body, r.headers['x-nrdot-signature'] as string));
    assert.deepEqual(s.stats, { delivered: 1, failed: 0, pending: 0 });
    assert.deepEqual(store.pendingAlerts(ALL, 10), []);
    store.close();
    await receiver.close();
  });

  it('gives up at once on a 400, and stores nothing for an event without a webhook', async () => {
    const receiver = await Receiver.start(() => ({ status: 400, body: 'signature mismatch' }));
    const store = StateStore.open(fresh());
    const capture = captureLog();
    const s = sender(store, receiver.url, capture.log, { secret: SECRET });
    s.start();
    s.raise('rollback', { to: 'conservative' });
    const refused = await capture.line((l) => l.level === 50);
    assert.match(refused.msg, /^webhook rollback: http:\/\/127\.0\.0\.1:\d+ refused alert \d+ with HTTP 400 \(signature mismatch\); not retried/);
    await s.drain();
    assert.equal(receiver.requests.length, 1, 'not retried');
    assert.deepEqual(store.pendingAlerts(ALL - 1, 10), [], 'nothing left to retry');
    assert.deepEqual(s.stats, { delivered: 0, failed: 1, pending: 0 });

    assert.equal(s.raise('coverage_violation', { coverage: 0.8 }), null, 'no webhook for coverage_violation');
    assert.deepEqual(store.pendingAlerts(ALL, 10).map((a) => a.event), ['rollback'], 'only the refused alert, kept as failed');
    await s.stop();
    store.close();
    await receiver.close();
  });

  it('gives up after giveUpAfterSeconds of failures, saying so once', async () => {
    const receiver = await Receiver.start(() => ({ status: 503 }));
    const store = StateStore.open(fresh());
    const capture = captureLog();
    const s = sender(store, receiver.url, capture.log, { retry: { initialSeconds: 0.02, maxSeconds: 0.05, giveUpAfterSeconds: 0.3 } });
    s.start();
    s.raise('profile_change', {});
    const gaveUp = await capture.line((l) => l.level === 50);
    assert.match(gaveUp.msg, /^webhook profile_change: alert \d+ given up after \d+ attempts in 0\.\d s; the last: HTTP 503/);
    await s.stop();
    const attempts = receiver.requests.length;
    assert.ok(attempts >= 3, `${attempts} attempts`);
    assert.equal(capture.lines.filter((l) => l.level === 40 && l.error_type === '503').length, 1, 'one warning for every 503');
    assert.deepEqual(s.stats, { delivered: 0, failed: 1, pending: 0 });
    store.close();
    await receiver.close();
  });

  it('follows a reload: a removed webhook drops its pending alerts, a new URL takes the rest at once', async () => {
    const down = `http://127.0.0.1:${await closedPort()}${PATH}`;
    const store = StateStore.open(fresh());
    const capture = captureLog();
    const s = sender(store, down, capture.log, { retry: { initialSeconds: 60, maxSeconds: 600, giveUpAfterSeconds: 3600 } });
    s.start();
    const dropped = s.raise('rollback', { to: 'conservative' });
    const moved = s.raise('profile_change', { to: 'aggressive' });
    await capture.line((l) => l.alert_id === moved && l.level === 40);

    const receiver = await Receiver.start();
    s.setWebhooks({ profile_change: { url: receiver.url } });
    await receiver.answeredCount(1);
    const gone = await capture.line((l) => l.alert_id === dropped && /dropped/.test(l.msg));
    assert.match(gone.msg, /^webhook rollback: alert \d+ dropped: no webhook is configured for rollback any more$/);
    await s.stop();
    assert.equal((JSON.parse(receiver.requests[0]!.body.toString()) as WebhookBody).event, 'profile_change', 'sent at once, not after the 60 s backoff');
    assert.deepEqual(s.stats, { delivered: 1, failed: 1, pending: 0 });
    assert.ok(capture.lines.some((l) => /webhook profile_change: no secret/.test(l.msg)), 'an unsigned webhook is pointed out');
    store.close();
    await receiver.close();
  });

  it('never logs the secret or the URL path, even when the receiver echoes them', async () => {
    const echo = (r: Received): string => `Cannot POST ${r.path}; signature ${String(r.headers['x-nrdot-signature'])} with ${SECRET}`;
    const receiver = await Receiver.start((r, i) => ({ status: i === 0 ? 502 : 404, body: echo(r) }));
    const port = await closedPort();
    const store = StateStore.open(fresh());
    const capture = captureLog();
    const webhooks = {
      profile_change: { url: `${receiver.url}?token=QUERYTOKEN42`, secret: SECRET },
      rollback: { url: `http://127.0.0.1:${port}${PATH}` },
    };
    const s = new WebhookSender({
      store,
      webhooks,
      redactor: redactorFor(webhooks),
      host: HOST,
      log: capture.log,
      retry: QUICK,
      random: () => 0.5,
    });
    s.start();
    s.raise('profile_change', { note: 'x' });
    s.raise('rollback', { note: 'y' });
    await capture.line((l) => l.level === 50 && l.webhook_event === 'profile_change');
    await capture.line((l) => l.level === 40 && l.webhook_event === 'rollback' && l.error_type === 'connection');
    await s.stop();

    const text = capture.text();
    for (const secret of [SECRET, 'PATHTOKEN123', 'QUERYTOKEN42', 'T000/B000']) assert.ok(!text.includes(secret), `the log shows ${secret}:\n${text}`);
    assert.ok(text.includes(receiver.origin), 'the origin is named');
    assert.ok(text.includes('HTTP 502 (Cannot POST ***'), 'the answer is quoted, scrubbed');
    store.close();
    await receiver.close();
  });
});
