import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { statLine } from '../../test/fakeproc.js';
import { IO_READ_BYTES, IO_WRITE_BYTES, STATUS_NONVOLUNTARY, STATUS_VOLUNTARY, joinCmdline, lineValue, lineValueNearEnd, newStatFields, oneLineCgroup, parseStat } from './parse.js';

function parse(line: Buffer) {
  const out = newStatFields();
  const ok = parseStat(line, line.length, out);
  return { ok, out, name: line.subarray(out.nameStart, out.nameEnd) };
}

describe('parseStat', () => {
  it('reads the fields of a real-looking stat line', () => {
    const line = Buffer.from(
      '1234 (nginx: worker) S 1 1234 1234 0 -1 4194624 5000 0 7 0 250 125 0 0 20 0 3 0 98765 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n',
    );
    const { ok, out, name } = parse(line);
    assert.ok(ok);
    assert.equal(name.toString(), 'nginx: worker');
    assert.equal(out.state, 'S');
    assert.equal(out.ppid, 1);
    assert.equal(out.minorFaults, 5000);
    assert.equal(out.majorFaults, 7);
    assert.equal(out.utimeTicks, 250);
    assert.equal(out.stimeTicks, 125);
    assert.equal(out.threads, 3);
    assert.equal(out.startTicks, 98765);
    assert.equal(out.vsizeBytes, 123456789);
    assert.equal(out.rssPages, 2048);
  });

  it('takes the name from the first "(" to the last ")", whatever it holds', () => {
    for (const name of ['a) b (c', ') S 1 2 3 (', 'new\nline', 'x)', '((', '']) {
      const { ok, name: got, out } = parse(statLine({ pid: 7, name, ppid: 3, startTicks: 42 }));
      assert.ok(ok, name);
      assert.equal(got.toString(), name);
      assert.equal(out.ppid, 3);
      assert.equal(out.startTicks, 42);
    }
  });

  it('rejects truncated or garbage lines instead of returning NaN', () => {
    for (const text of ['', 'garbage', '12 (x) S 1 2', '12 (x) S a b c d e f g h i j k l m n o p q r s t u v']) {
      const buf = Buffer.from(text);
      assert.equal(parseStat(buf, buf.length, newStatFields()), false, text);
    }
  });

  it('property: any comm bytes and any counters parse back exactly', () => {
    const comm = fc.uint8Array({ minLength: 0, maxLength: 15 }).filter((b) => !b.includes(0));
    const counter = fc.nat({ max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(comm, fc.integer({ min: 1, max: 4194304 }), counter, counter, counter, counter, fc.nat(100000), (name, pid, utime, stime, start, vsize, threads) => {
        const line = statLine({ pid, name: Buffer.from(name), utimeTicks: utime, stimeTicks: stime, startTicks: start, vsizeBytes: vsize, threads });
        const { ok, out, name: got } = parse(line);
        assert.ok(ok);
        assert.deepEqual(new Uint8Array(got), name);
        assert.equal(out.utimeTicks, utime);
        assert.equal(out.stimeTicks, stime);
        assert.equal(out.startTicks, start);
        assert.equal(out.vsizeBytes, vsize);
        assert.equal(out.threads, threads);
      }),
      { numRuns: 500 },
    );
  });

  it('ignores bytes left in a reused buffer past the length read', () => {
    // A longer line from an earlier read is still in the buffer, with a later ")" and other values.
    const stale = statLine({ pid: 8, name: 'a much longer name', rssPages: 999, ppid: 5 });
    const line = statLine({ pid: 9, name: 'short', rssPages: 77, ppid: 1 });
    const buf = Buffer.alloc(4096);
    stale.copy(buf);
    line.copy(buf);
    const out = newStatFields();
    assert.ok(parseStat(buf, line.length, out));
    assert.equal(buf.toString('utf8', out.nameStart, out.nameEnd), 'short');
    assert.equal(out.rssPages, 77);
    assert.equal(out.ppid, 1);
  });
});

describe('lineValue', () => {
  it('finds keys at line starts only, not inside longer keys', () => {
    const io = Buffer.from('rchar: 5\nwchar: 6\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 1\n');
    assert.equal(lineValue(io, io.length, IO_READ_BYTES), 4096);
    assert.equal(lineValue(io, io.length, IO_WRITE_BYTES), 8192);
    const status = Buffer.from('Name:\tx\nnonvoluntary_ctxt_switches:\t9\nvoluntary_ctxt_switches:\t11\n');
    assert.equal(lineValue(status, status.length, STATUS_VOLUNTARY), 11);
  });

  it('does not read a stale match past the length of the current content', () => {
    const buf = Buffer.from('rchar: 5\nXXXXXXXXXXXXX\nread_bytes: 1\n');
    assert.equal(lineValue(buf, 9, IO_READ_BYTES), -1);
  });
});

describe('lineValueNearEnd', () => {
  const status = Buffer.from('Name:\tsshd\nUid:\t0\t0\t0\t0\nThreads:\t1\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n');
  it('reads the last lines of status without searching the whole file', () => {
    assert.equal(lineValueNearEnd(status, status.length, STATUS_VOLUNTARY, 4), 1234);
    assert.equal(lineValueNearEnd(status, status.length, STATUS_NONVOLUNTARY, 4), 56);
  });

  it('falls back to a search when a newer kernel adds lines after them', () => {
    const longer = Buffer.concat([status, Buffer.from('A:\t1\nB:\t2\nC:\t3\nD:\t4\nE:\t5\n')]);
    assert.equal(lineValueNearEnd(longer, longer.length, STATUS_VOLUNTARY, 4), 1234);
    assert.equal(lineValueNearEnd(longer, longer.length, IO_READ_BYTES, 4), -1);
  });

  it('agrees with lineValue on every key of an io file', () => {
    const io = Buffer.from('rchar: 5\nwchar: 6\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 1\n');
    for (const key of [IO_READ_BYTES, IO_WRITE_BYTES]) {
      assert.equal(lineValueNearEnd(io, io.length, key, 4), lineValue(io, io.length, key));
    }
  });
});

describe('joinCmdline and oneLineCgroup', () => {
  it('joins argv with single spaces and drops the trailing NUL', () => {
    assert.equal(joinCmdline(Buffer.from('postgres\0-D\0/var/lib/postgresql\0')), 'postgres -D /var/lib/postgresql');
    assert.equal(joinCmdline(Buffer.from('nginx: worker process')), 'nginx: worker process');
    assert.equal(joinCmdline(Buffer.alloc(0)), '');
  });

  it('puts a cgroup v1 file on one line', () => {
    assert.equal(oneLineCgroup('0::/system.slice/cron.service\n'), '0::/system.slice/cron.service');
    assert.equal(oneLineCgroup('2:cpu:/a\n1:name=systemd:/b\n'), '2:cpu:/a;1:name=systemd:/b');
    assert.equal(oneLineCgroup(''), null);
  });
});
