import { type AudioFrame, DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE, samplesForMs } from '../../audio/frame.ts';
import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import { type LatencySpec, latencySampler, seededRandom } from '../simulated-latency.ts';
import { energySpan } from '../vad/reference.ts';
import type { STT, SttListener, SttStream } from './contract.ts';

/** A recording whose words are known: what the simulated STT "recognises". */
export interface KnownUtterance {
  /** 16 kHz mono PCM16, exactly as a client will send it, from its first sample. */
  samples: Int16Array;
  text: string;
}

export interface SimulatedSttOptions {
  clock?: Clock;
  utterances: readonly KnownUtterance[];
  /** Frame size the client sends; frames are matched whole. Default 20 ms at 16 kHz. */
  frameSamples?: number;
  /** Time from `flush()` (end of speech) to the final transcript: a realtime cloud STT's finalisation. */
  finalDelay: LatencySpec;
  /** Time from a word's end in the audio to the interim hypothesis that contains it. */
  interimDelayMs?: number;
  /** Finals capitalised and ending in a full stop, as cloud STTs format them. Default true. */
  punctuate?: boolean;
  seed?: number;
}

interface FrameRef {
  utterance: number;
  index: number;
}

interface IndexedUtterance {
  samples: Int16Array;
  words: string[];
  /** Where the first word starts and, per word, where it has been fully spoken (ms from the utterance start). */
  speechStartMs: number;
  wordEndsMs: number[];
}

/**
 * A stand-in for a realtime cloud STT in benchmarks: it cannot recognise speech, so it is given the recordings
 * the client will play with their transcripts, and recognises a frame of audio by its exact samples. As known
 * audio streams in it emits interims word by word (words spread over the voiced span of the recording), and on
 * `flush()` a final with the words heard since the last final, after a drawn delay. Any other audio is heard as
 * silence. The VAD stays real, so endpointing is real.
 */
export class SimulatedStt implements STT {
  readonly name = 'simulated';
  private readonly clock: Clock;
  private readonly frameSamples: number;
  private readonly index = new Map<number, FrameRef | null>();
  private readonly utterances: IndexedUtterance[];
  private readonly nextFinalDelay: () => number;

  constructor(private readonly options: SimulatedSttOptions) {
    this.clock = options.clock ?? new MonotonicClock();
    this.frameSamples = options.frameSamples ?? samplesForMs(DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE);
    if (!(Number.isInteger(this.frameSamples) && this.frameSamples > 0)) {
      throw new RangeError(`frameSamples must be a positive integer, got ${this.frameSamples}`);
    }
    this.nextFinalDelay = latencySampler(options.finalDelay, seededRandom(options.seed ?? 1), 'finalDelay');
    this.utterances = options.utterances.map((u, i) => this.indexUtterance(u, i));
  }

  stream(listener: SttListener): SttStream {
    return new SimulatedSttStream(this, listener, this.options, this.clock, this.nextFinalDelay);
  }

  /** The known frame these samples are, if any. */
  lookup(samples: Int16Array): { utterance: IndexedUtterance; index: number } | undefined {
    if (samples.length !== this.frameSamples) return undefined;
    const ref = this.index.get(hashSamples(samples));
    if (!ref) return undefined;
    const utterance = this.utterances[ref.utterance];
    const start = ref.index * this.frameSamples;
    for (let i = 0; i < samples.length; i++)
      if (samples[i] !== utterance.samples[start + i]) return undefined;
    return { utterance, index: ref.index };
  }

  get frameMs(): number {
    return (this.frameSamples * 1000) / PIPELINE_SAMPLE_RATE;
  }

  private indexUtterance(utterance: KnownUtterance, position: number): IndexedUtterance {
    const words = utterance.text.split(/\s+/).filter(Boolean);
    if (words.length === 0) throw new RangeError(`utterance ${position} has no words`);
    const frames = Math.floor(utterance.samples.length / this.frameSamples);
    if (frames === 0) throw new RangeError(`utterance ${position} is shorter than one frame`);
    for (let index = 0; index < frames; index++) {
      const start = index * this.frameSamples;
      const key = hashSamples(utterance.samples.subarray(start, start + this.frameSamples));
      // A frame that occurs twice (digital silence) says nothing about where we are: never match it.
      this.index.set(key, this.index.has(key) ? null : { utterance: position, index });
    }
    const { startMs, endMs } = energySpan(utterance.samples);
    const step = (endMs - startMs) / words.length;
    return {
      samples: utterance.samples,
      words,
      speechStartMs: startMs,
      wordEndsMs: words.map((_, i) => startMs + (i + 1) * step),
    };
  }
}

class SimulatedSttStream implements SttStream {
  private current:
    | { utterance: IndexedUtterance; lastIndex: number; wordsHeard: number; startAt: number }
    | undefined;
  /** Words heard and not yet in a final, with the session time their audio started and ended. */
  private pending: { word: string; startMs: number; endMs: number }[] = [];
  private closed = false;
  private readonly cancels = new Set<() => void>();

  constructor(
    private readonly stt: SimulatedStt,
    private readonly listener: SttListener,
    private readonly options: SimulatedSttOptions,
    private readonly clock: Clock,
    private readonly nextFinalDelay: () => number,
  ) {}

  push(frame: AudioFrame): void {
    if (this.closed) return;
    const hit = this.stt.lookup(frame.samples);
    if (!hit) return;
    const frameMs = this.stt.frameMs;
    const continues = this.current?.utterance === hit.utterance && hit.index > this.current.lastIndex;
    if (!continues) {
      this.current = {
        utterance: hit.utterance,
        lastIndex: -1,
        wordsHeard: 0,
        startAt: frame.timestampMs - hit.index * frameMs,
      };
    }
    const current = this.current as NonNullable<typeof this.current>;
    current.lastIndex = hit.index;
    const heardUpToMs = (hit.index + 1) * frameMs;
    const { words, wordEndsMs, speechStartMs } = hit.utterance;
    let advanced = false;
    while (current.wordsHeard < words.length && wordEndsMs[current.wordsHeard] <= heardUpToMs + 1e-6) {
      const i = current.wordsHeard++;
      const startMs = current.startAt + (i === 0 ? speechStartMs : wordEndsMs[i - 1]);
      this.pending.push({ word: words[i], startMs, endMs: current.startAt + wordEndsMs[i] });
      advanced = true;
    }
    if (advanced) {
      const snapshot = this.pending.slice();
      this.later(this.options.interimDelayMs ?? 0, () => {
        // Still the live hypothesis only if no final has taken these words meanwhile.
        if (this.pending[0] !== snapshot[0]) return;
        this.listener.onInterim(this.transcriptOf(snapshot, false));
      });
    }
  }

  flush(): void {
    if (this.closed) return;
    const count = this.pending.length;
    this.later(this.nextFinalDelay(), () => {
      const words = this.pending.splice(0, count);
      this.listener.onFinal(this.transcriptOf(words, true));
    });
  }

  close(): void {
    this.closed = true;
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }

  private transcriptOf(words: { word: string; startMs: number; endMs: number }[], final: boolean) {
    const now = this.clock.now();
    let text = words.map((w) => w.word).join(' ');
    if (final && text && (this.options.punctuate ?? true)) text = `${text[0].toUpperCase()}${text.slice(1)}.`;
    return { text, startMs: words[0]?.startMs ?? now, endMs: words.at(-1)?.endMs ?? now };
  }

  private later(ms: number, fn: () => void): void {
    const cancel = this.clock.schedule(ms, () => {
      this.cancels.delete(cancel);
      if (!this.closed) fn();
    });
    this.cancels.add(cancel);
  }
}

/** FNV-1a over the sample bytes. */
function hashSamples(samples: Int16Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] & 0xffff;
    hash = Math.imul(hash ^ (v & 0xff), 0x01000193);
    hash = Math.imul(hash ^ (v >>> 8), 0x01000193);
  }
  return hash >>> 0;
}
