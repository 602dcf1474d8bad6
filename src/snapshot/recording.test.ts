import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { MAX_LINE_BYTES, RecordingError, RecordingWriter, readRecording } from './recording.js';
import type { Snapshot } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'nrdot-recording-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function snapshot(i: number): Snapshot {
  return {
    schema: 'nrdot.snapshot/v1',
    host: { id: 'web-01', name: 'web-01', cpus: 8, memory_bytes: 33554432000, boot_time: 1764100000 },
    timestamp: 1764115200.25 + i * 10,
    processes: [
      {
        pid: 1, ppid: 0, name: 'systemd', exe: '/usr/lib/systemd/systemd', cmdline: '/sbin/init splash', user: 'root',
        state: 'S', start_time: 1764100001.5, cpu_user_seconds: 12.3 + i, cpu_system_seconds: 4.5, rss_bytes: 12345678,
        vms_bytes: 234567890, threads: 1, fds: 64, io_read_bytes: 1024, io_write_bytes: 2048, minor_faults: 100,
        major_faults: 2, ctx_voluntary: 500, ctx_involuntary: 20, cgroup: '0::/init.scope',
      },
      {
        pid: 300, ppid: 2, name: 'a) b\n(\uFFFD', exe: '', cmdline: '', user: '4242', state: 'Z', start_time: 1764100002,
        cpu_user_seconds: 0, cpu_system_seconds: 0, rss_bytes: 0, vms_bytes: 0, threads: 1, fds: null,
        io_read_bytes: null, io_write_bytes: null, minor_faults: 0, major_faults: 0, ctx_voluntary: 1, ctx_involuntary: 0,
      },
    ],
  };
}

async function readAll(path: string): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  for await (const s of readRecording(path)) out.push(s);
  return out;
}

describe('recordings', () => {
  for (const file of ['plain.ndjson', 'compressed.ndjson.gz']) {
    it(`round-trips through ${file}`, async () => {
      const path = join(dir, file);
      const written = [0, 1, 2].map(snapshot);
      const writer = RecordingWriter.open(path);
      for (const s of written) await writer.write(s);
      await writer.close();
      assert.deepEqual(await readAll(path), written);
    });
  }

  it('writes gzip for .gz and one JSON object per line', async () => {
    const path = join(dir, 'lines.ndjson.gz');
    const writer = RecordingWriter.open(path);
    await writer.write(snapshot(0));
    await writer.write(snapshot(1));
    await writer.close();
    const lines = gunzipSync(readFileSync(path)).toString('utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[1]!).timestamp, snapshot(1).timestamp);
  });

  it('names the file and line of a bad snapshot', async () => {
    const path = join(dir, 'bad.ndjson');
    writeFileSync(path, JSON.stringify(snapshot(0)) + '\n{"schema":"other/v9","processes":[]}\n');
    await assert.rejects(readAll(path), (err: unknown) => {
      assert.ok(err instanceof RecordingError);
      assert.match(err.message, /bad\.ndjson:2: field "schema" must be "nrdot\.snapshot\/v1"/);
      return true;
    });
    writeFileSync(path, '{"schema":\n');
    await assert.rejects(readAll(path), /bad\.ndjson:1: invalid JSON/);
    const broken = snapshot(0) as unknown as { processes: Array<Record<string, unknown>> };
    broken.processes[1]!.rss_bytes = '12MB';
    writeFileSync(path, JSON.stringify(snapshot(0)) + '\n' + JSON.stringify(broken) + '\n');
    await assert.rejects(readAll(path), /bad\.ndjson:2: processes\[1\]\.rss_bytes must be a whole number from 0 to 9007199254740991 \(got string\)/);
    writeFileSync(path, '{"schema":"nrdot.snapshot/v1","host":{},"timestamp":1,"processes":[]}\n');
    await assert.rejects(readAll(path), /bad\.ndjson:1: host\.id must be a string/);
  });

  it('refuses values no process can have, with file:line and field', async () => {
    const path = join(dir, 'impossible.ndjson');
    const cases: Array<[(p: Record<string, unknown>) => void, RegExp]> = [
      [(p) => (p.cpu_user_seconds = -3), /processes\[0\]\.cpu_user_seconds must be a number from 0 to \d+ \(got -3\)/],
      [(p) => (p.threads = -1), /processes\[0\]\.threads must be a whole number from 0 to 4194304 \(got -1\)/],
      [(p) => (p.rss_bytes = 1e300), /processes\[0\]\.rss_bytes must be a whole number from 0 to 9007199254740991 \(got 1e\+300\)/],
      [(p) => (p.io_read_bytes = -1), /processes\[0\]\.io_read_bytes must be a whole number .* or null/],
      [(p) => (p.pid = 1.5), /processes\[0\]\.pid must be a whole number/],
    ];
    for (const [spoil, message] of cases) {
      const bad = snapshot(1) as unknown as { processes: Array<Record<string, unknown>> };
      spoil(bad.processes[0]!);
      writeFileSync(path, JSON.stringify(snapshot(0)) + '\n' + JSON.stringify(bad) + '\n');
      await assert.rejects(readAll(path), new RegExp(`impossible\\.ndjson:2: ${message.source}`));
    }
    writeFileSync(path, JSON.stringify({ ...snapshot(0), timestamp: 1e300 }) + '\n');
    await assert.rejects(readAll(path), /impossible\.ndjson:1: field "timestamp" must be a number from 0 to 253402300799/);
  });

  it('skips snapshots out of time order (repeated or going back), saying where and how many', async () => {
    const path = join(dir, 'order.ndjson');
    writeFileSync(path, [0, 1, 1, 3, 2, 4].map((i) => JSON.stringify(snapshot(i === 3 ? 0.5 : i))).join('\n') + '\n');
    const warnings: string[] = [];
    const read: number[] = [];
    for await (const s of readRecording(path, (m) => warnings.push(m))) read.push(s.timestamp);
    assert.deepEqual(read, [0, 1, 2, 4].map((i) => snapshot(i).timestamp));
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /order\.ndjson:3: timestamp 1764115210\.25 is not after the previous snapshot's \(1764115210\.25\): snapshot skipped/);
    assert.match(warnings[1]!, /order\.ndjson: 2 snapshots out of time order skipped in all/);
  });

  it('refuses a line longer than 64 MiB without holding it whole', async () => {
    const path = join(dir, 'long.ndjson');
    const long = Buffer.alloc(MAX_LINE_BYTES + 1024 * 1024, 0x20);
    writeFileSync(path, Buffer.concat([Buffer.from(JSON.stringify(snapshot(0)) + '\n'), long, Buffer.from('\n')]));
    await assert.rejects(readAll(path), /long\.ndjson:2: line longer than 64 MiB: not a snapshot/);
  });

  it('names a missing file', async () => {
    await assert.rejects(readAll(join(dir, 'nope.ndjson')), /nope\.ndjson: no such file/);
  });
});
