import { expect, it } from 'vitest';
import { OpusDecoder } from '../../audio/opus.ts';
import type { ConversationStore, RetentionOptions, StoreLog } from '../types.ts';
import { memoryContract } from './memory-contract.ts';
import { sampleTurn as turn } from './turns.ts';

/** What a contract check may ask of a backend's store, on top of its own test settings (short batches). */
export interface ContractOpenOptions {
  retention?: Partial<RetentionOptions>;
  retentionIntervalMs?: number;
  log?: StoreLog;
}

/**
 * A fresh, empty database for one check: `open` may be called several times on it (a reopen sees what the
 * previous store wrote). The backend's test closes the stores it opened. Undefined: the backend is not
 * available on this machine (its test said why); the check is skipped.
 */
export type NewDatabase = () => Promise<((options?: ContractOpenOptions) => ConversationStore) | undefined>;

type Context = { skip(): void };

export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A short conversation: `turns` transcripts and turn records, in experiment `x` variant `a`. */
export function conversation(store: ConversationStore, id: string, turns = 2): void {
  store.beginSession({
    id,
    startedAt: Date.now(),
    clockOriginMs: 5000,
    recording: false,
    variant: 'a',
    experiment: 'x',
  });
  for (let i = 1; i <= turns; i++) {
    store.addEvent({
      sessionId: id,
      kind: 'transcript',
      atMs: i * 1000,
      data: { text: `question ${i}`, final: true },
    });
    store.addTurn(id, turn(id, i, 700 + i), Date.now());
  }
  store.endSession(id, Date.now());
}

/** The checks every ConversationStore backend passes, registered as tests in the caller's describe block. */
export function storeContract(newDatabase: NewDatabase): void {
  memoryContract(newDatabase);
  it('keeps sessions, their turn records and events across a reopen', async (context: Context) => {
    const open = await newDatabase();
    if (!open) return context.skip();
    const store = open();
    conversation(store, 's1', 3);
    await store.flush();
    await store.close();
    const again = open();
    const [summary] = await again.listSessions();
    expect(summary).toMatchObject({
      id: 's1',
      turns: 3,
      variant: 'a',
      experiment: 'x',
      voiceToVoiceP50Ms: 702,
    });
    const detail = await again.getSession('s1');
    expect(detail?.turnRecords.map((t) => t.record.agentText)).toEqual(['answer 1', 'answer 2', 'answer 3']);
    expect(detail?.events.map((e) => e.data)).toContainEqual({ text: 'question 2', final: true });
    expect(detail?.clockOriginMs).toBe(5000);
    expect((await again.turnsSince(0)).map((t) => [t.variant, t.record.turnId])).toEqual([
      ['a', 1],
      ['a', 2],
      ['a', 3],
    ]);
    expect(await again.getSession('nobody')).toBeUndefined();
    expect(again.health()).toMatchObject({ ok: true, mode: 'file', pending: 0 });
  });

  it('records both sides as Ogg Opus placed on the session clock', async (context: Context) => {
    const open = await newDatabase();
    if (!open) return context.skip();
    const store = open();
    store.beginSession({ id: 'r', startedAt: Date.now(), clockOriginMs: 0, recording: true });
    const tone = new Int16Array(320).map((_, i) =>
      Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)),
    );
    for (let f = 0; f < 50; f++) store.addAudio('r', 'user', f * 20, tone, 16000); // 0..1 s
    for (let f = 0; f < 25; f++) store.addAudio('r', 'agent', 1500 + f * 20, tone, 16000); // 1.5..2 s
    store.endSession('r', Date.now());
    await store.flush();
    const detail = await store.getSession('r');
    expect(detail?.recording).toBe(true);
    expect(detail?.recordings.map((r) => [r.side, r.durationMs]).sort()).toEqual([
      ['agent', 2000],
      ['user', 1000],
    ]);
    const agent = await store.getRecording('r', 'agent');
    expect(agent?.mime).toMatch(/ogg/);
    const packets = oggPackets(agent?.bytes ?? new Uint8Array());
    expect(new TextDecoder().decode(packets[0].subarray(0, 8))).toBe('OpusHead');
    const decoder = new OpusDecoder();
    const pcm = packets.slice(2).map((p) => decoder.decode(p));
    const rms = (s: Int16Array) => Math.sqrt(s.reduce((a, v) => a + v * v, 0) / s.length);
    // Silence until 1.5 s, the tone after.
    expect(rms(pcm[30])).toBeLessThan(50);
    expect(rms(pcm[90])).toBeGreaterThan(2000);
  });

  it('retention deletes sessions past their age, with their rows', async (context: Context) => {
    const open = await newDatabase();
    if (!open) return context.skip();
    const store = open({ retention: { maxAgeMs: 60_000 }, retentionIntervalMs: 1 });
    store.beginSession({ id: 'old', startedAt: Date.now() - 120_000, clockOriginMs: 0, recording: false });
    store.addTurn('old', turn('old', 1, 800), Date.now() - 119_000);
    store.endSession('old', Date.now() - 110_000);
    await store.flush();
    await new Promise((r) => setTimeout(r, 5));
    conversation(store, 'new', 1);
    await store.flush();
    expect((await store.listSessions()).map((s) => s.id)).toEqual(['new']);
    expect((await store.turnsSince(0)).map((t) => t.sessionId)).toEqual(['new']);
  });
}

/** The packets of an Ogg stream, checking each page's capture pattern. */
export function oggPackets(bytes: Uint8Array): Uint8Array[] {
  const packets: Uint8Array[] = [];
  let at = 0;
  let partial: number[] = [];
  while (at < bytes.length) {
    expect(new TextDecoder().decode(bytes.subarray(at, at + 4))).toBe('OggS');
    const segments = bytes[at + 26];
    const lacing = bytes.subarray(at + 27, at + 27 + segments);
    let body = at + 27 + segments;
    for (const size of lacing) {
      partial.push(...bytes.subarray(body, body + size));
      body += size;
      if (size < 255) {
        packets.push(Uint8Array.from(partial));
        partial = [];
      }
    }
    at = body;
  }
  return packets;
}
