import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioFormatError, splitIntoFrames } from '../../audio/frame.ts';
import { readRawPcm16File, readWavFile } from '../../audio/wav.ts';
import type { Transcript } from './contract.ts';
import {
  DecoderPoolExhaustedError,
  PocketsphinxError,
  PocketsphinxSTT,
  type PocketsphinxStream,
} from './pocketsphinx.ts';
import { wordErrors } from './wer.ts';

const DATA = '/usr/share/pocketsphinx/test/data';
const CLIP = `${DATA}/librivox/sense_and_sensibility_01_austen_64kb-0930.wav`;
const CLIP_TEXT = 'he might even have been made amiable himself';

interface Heard {
  interims: Transcript[];
  finals: Transcript[];
  errors: Error[];
  order: string[];
}

function listen(stt: PocketsphinxSTT, signal?: AbortSignal): { stream: PocketsphinxStream; heard: Heard } {
  const heard: Heard = { interims: [], finals: [], errors: [], order: [] };
  const stream = stt.stream(
    {
      onInterim: (t) => heard.interims.push(t) && heard.order.push('interim'),
      onFinal: (t) => heard.finals.push(t) && heard.order.push('final'),
      onError: (e) => heard.errors.push(e),
    },
    { signal },
  );
  return { stream, heard };
}

/** Pushes 20 ms frames, letting the decoder catch up every 100 ms as it would in real time. */
async function feed(stream: PocketsphinxStream, samples: Int16Array, startMs: number): Promise<void> {
  let n = 0;
  for (const frame of splitIntoFrames(samples, 16_000, startMs)) {
    stream.push(frame);
    if (++n % 5 === 0) await stream.whenIdle();
  }
  await stream.whenIdle();
}

/** Polls until `condition` holds; the deadline is generous because a loaded machine only makes it later. */
async function until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

/** Uniform noise at `dbfs` RMS (a quiet room), deterministic. */
function noise(ms: number, dbfs: number): Int16Array {
  const out = new Int16Array(ms * 16);
  const amplitude = 32_768 * 10 ** (dbfs / 20) * Math.sqrt(3);
  let seed = 12_345;
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    out[i] = Math.round(((seed / 0x7fffffff) * 2 - 1) * amplitude);
  }
  return out;
}

function finalOf(heard: Heard): Promise<Transcript> {
  return new Promise((resolve) => {
    const poll = () =>
      heard.finals.length ? resolve(heard.finals[heard.finals.length - 1]) : setTimeout(poll, 5);
    poll();
  });
}

// Real decoding of real speech: on a loaded machine a test takes many times its quiet-machine time. The limits
// below only stop a hang; nothing here asserts a duration.
const SLOW = 180_000;

describe('PocketsphinxSTT on real audio', () => {
  let stt: PocketsphinxSTT;
  let clip: Int16Array;
  beforeAll(async () => {
    stt = new PocketsphinxSTT();
    clip = (await readWavFile(CLIP)).samples;
    await stt.prewarm(1);
  }, SLOW);
  afterAll(() => stt.dispose());

  it(
    'streams interims, then a final on flush with a low word error rate and session-clock times',
    async () => {
      const { stream, heard } = listen(stt);
      await feed(stream, clip, 5_000);
      stream.flush();
      const final = await finalOf(heard);
      stream.close();
      expect(heard.errors).toEqual([]);
      expect(heard.interims.length).toBeGreaterThan(1);
      expect(heard.order.indexOf('final')).toBe(heard.order.length - 1);
      expect(wordErrors(CLIP_TEXT, final.text).wer).toBeLessThanOrEqual(0.25);
      expect(final.startMs).toBe(5_000);
      expect(final.endMs).toBeCloseTo(5_000 + clip.length / 16, 5);
      // interims only change, never repeat
      for (let i = 1; i < heard.interims.length; i++)
        expect(heard.interims[i].text).not.toBe(heard.interims[i - 1].text);
    },
    SLOW,
  );

  it(
    'starts a new utterance after each flush, and ignores a flush with nothing heard',
    async () => {
      const goForward = (await readRawPcm16File(`${DATA}/goforward.raw`, 16_000)).samples;
      const { stream, heard } = listen(stt);
      stream.flush(); // nothing heard yet: no final
      await feed(stream, goForward, 0);
      stream.flush();
      await finalOf(heard);
      await feed(stream, goForward, 10_000);
      stream.flush();
      await stream.whenIdle();
      stream.close();
      expect(heard.finals).toHaveLength(2);
      for (const final of heard.finals)
        expect(wordErrors('go forward ten meters', final.text).wer).toBeLessThanOrEqual(0.25);
      expect(heard.finals[1].startMs).toBe(10_000);
    },
    SLOW,
  );

  it(
    'survives close and abort mid-decode: no further events, decoder back in the pool and clean',
    async () => {
      const idleBefore = stt.idleDecoders;
      const { stream, heard } = listen(stt);
      for (const frame of splitIntoFrames(clip, 16_000)) stream.push(frame);
      // The first interim means decoding has started; most of the clip is still queued behind the call in flight.
      await until(() => heard.interims.length > 0);
      expect(heard.interims.length).toBeGreaterThan(0);
      stream.close();
      stream.push({ samples: new Int16Array(320), sampleRate: 16_000, timestampMs: 0 });
      stream.flush();
      await until(() => stt.idleDecoders === idleBefore);
      expect(stt.idleDecoders).toBe(idleBefore);
      expect(heard.finals).toEqual([]);
      expect(heard.errors).toEqual([]);

      const controller = new AbortController();
      const aborted = listen(stt, controller.signal);
      for (const frame of splitIntoFrames(clip, 16_000)) aborted.stream.push(frame);
      aborted.stream.flush();
      await until(() => aborted.heard.interims.length > 0);
      controller.abort();
      await until(() => stt.idleDecoders === idleBefore);
      expect(aborted.heard.finals).toEqual([]);
      expect(stt.idleDecoders).toBe(idleBefore);

      // The reused decoder works normally after the abandoned utterances. pocketsphinx's live cepstral-mean
      // estimate does carry over between utterances by design, so a word or two may differ from a fresh run.
      const { stream: next, heard: nextHeard } = listen(stt);
      await feed(next, clip, 0);
      next.flush();
      expect(wordErrors(CLIP_TEXT, (await finalOf(nextHeard)).text).wer).toBeLessThanOrEqual(0.4);
      next.close();
    },
    SLOW,
  );

  it(
    'holds a decoder only while someone speaks, replaying the look-back so the first word is kept',
    async () => {
      const gated = new PocketsphinxSTT({ maxDecoders: 3 }); // its own pool, so the counts are this test's
      const { stream, heard } = listen(gated);
      await feed(stream, noise(4_000, -65), 0); // an open microphone in a quiet room
      expect(stream.holdsDecoder).toBe(false);
      expect(gated.decoderStats.inUse).toBe(0);
      let heldDuringSpeech = false;
      let n = 0;
      for (const frame of splitIntoFrames(clip, 16_000, 4_000)) {
        stream.push(frame);
        heldDuringSpeech ||= stream.holdsDecoder;
        if (++n % 5 === 0) await stream.whenIdle();
      }
      await stream.whenIdle();
      expect(heldDuringSpeech).toBe(true);
      stream.flush();
      const final = await finalOf(heard);
      await stream.whenIdle();
      expect(wordErrors(CLIP_TEXT, final.text).wer).toBeLessThanOrEqual(0.25);
      expect(final.startMs).toBeGreaterThanOrEqual(3_000); // no more than the 1 s look-back before the speech
      expect(final.startMs).toBeLessThanOrEqual(4_000);
      // The final settled the utterance: the decoder went back to the pool; silence does not take it again.
      await feed(stream, noise(2_000, -65), 10_000);
      expect(stream.holdsDecoder).toBe(false);
      expect(gated.decoderStats).toMatchObject({ inUse: 0, live: 1, idle: 1 });
      stream.close();
      gated.dispose();
    },
    SLOW,
  );

  it(
    'parks an utterance nobody ended and carries its words into the next final',
    async () => {
      const gated = new PocketsphinxSTT({ maxDecoders: 4, releaseAfterQuietMs: 1_000 });
      const goForward = (await readRawPcm16File(`${DATA}/goforward.raw`, 16_000)).samples;
      const { stream, heard } = listen(gated);
      await feed(stream, goForward, 0);
      await feed(stream, noise(1_500, -65), 10_000); // quiet, and no end-of-speech hint: parked
      expect(stream.holdsDecoder).toBe(false);
      expect(heard.finals).toEqual([]);
      await feed(stream, goForward, 20_000);
      stream.flush();
      const final = await finalOf(heard);
      stream.close();
      expect(wordErrors('go forward ten meters go forward ten meters', final.text).wer).toBeLessThanOrEqual(
        0.25,
      );
      expect(final.startMs).toBe(0);
      gated.dispose();
    },
    SLOW,
  );

  it(
    'reports an exhausted pool on the stream and still answers its flush: no silent loss, no hang',
    async () => {
      const tight = new PocketsphinxSTT({ maxDecoders: 1, maxWaitingUtterances: 0 });
      const first = listen(tight);
      const second = listen(tight);
      await feed(first.stream, clip.subarray(0, 16_000), 0); // holds the only decoder
      expect(first.stream.holdsDecoder).toBe(true);
      await feed(second.stream, clip.subarray(0, 16_000), 0);
      second.stream.flush();
      const refused = await finalOf(second.heard);
      expect(refused.text).toBe('');
      expect(second.heard.errors).toHaveLength(1);
      expect(second.heard.errors[0]).toBeInstanceOf(DecoderPoolExhaustedError);
      expect(second.heard.errors[0].message).toMatch(/all 1 pocketsphinx decoders are busy/);
      expect(tight.decoderStats.refused).toBe(1);
      // Once the first speaker's utterance is final, the next utterance of the second gets the decoder.
      first.stream.flush();
      await finalOf(first.heard);
      await feed(second.stream, clip, 30_000);
      second.stream.flush();
      await until(() => second.heard.finals.length === 2);
      expect(wordErrors(CLIP_TEXT, second.heard.finals[1].text).wer).toBeLessThanOrEqual(0.25);
      expect(second.heard.errors).toHaveLength(1);
      first.stream.close();
      second.stream.close();
      tight.dispose();
    },
    SLOW,
  );

  it('refuses bad input and a missing model with clear typed errors', () => {
    const { stream } = listen(stt);
    expect(() => stream.push({ samples: new Int16Array(160), sampleRate: 8_000, timestampMs: 0 })).toThrow(
      AudioFormatError,
    );
    stream.close();
    expect(() => stt.stream({ onInterim() {}, onFinal() {} }, { language: 'fr' })).toThrow(PocketsphinxError);
    expect(() => new PocketsphinxSTT({ modelDir: '/nonexistent' })).toThrow(/pocketsphinx-en-us/);
  });
});
