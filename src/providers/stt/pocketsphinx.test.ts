import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudioFormatError, splitIntoFrames } from '../../audio/frame.ts';
import { readRawPcm16File, readWavFile } from '../../audio/wav.ts';
import type { Transcript } from './contract.ts';
import { PocketsphinxError, PocketsphinxSTT, type PocketsphinxStream } from './pocketsphinx.ts';
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

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

function finalOf(heard: Heard): Promise<Transcript> {
  return new Promise((resolve) => {
    const poll = () =>
      heard.finals.length ? resolve(heard.finals[heard.finals.length - 1]) : setTimeout(poll, 5);
    poll();
  });
}

describe('PocketsphinxSTT on real audio', () => {
  let stt: PocketsphinxSTT;
  let clip: Int16Array;
  beforeAll(async () => {
    stt = new PocketsphinxSTT();
    clip = (await readWavFile(CLIP)).samples;
    await stt.prewarm(1);
  });
  afterAll(() => stt.dispose());

  it('streams interims, then a final on flush with a low word error rate and session-clock times', async () => {
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
  });

  it('starts a new utterance after each flush, and ignores a flush with nothing heard', async () => {
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
  });

  it('survives close and abort mid-decode: no further events, decoder back in the pool and clean', async () => {
    const idleBefore = stt.idleDecoders;
    const { stream, heard } = listen(stt);
    for (const frame of splitIntoFrames(clip, 16_000)) stream.push(frame);
    await new Promise((r) => setTimeout(r, 30)); // a native decode is in flight now
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
    await new Promise((r) => setTimeout(r, 20));
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
  });

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
