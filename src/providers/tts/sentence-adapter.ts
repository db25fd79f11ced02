import { DEFAULT_FRAME_MS, samplesForMs } from '../../audio/frame.ts';
import { AsyncQueue } from '../../util/async-queue.ts';
import type { SentenceSynthesizer, TTS, TtsAudio, TtsStream, TtsStreamOptions } from './contract.ts';

/**
 * Turns a sentence-at-a-time engine into a streaming TTS: each flushed segment is synthesised in order while
 * later text keeps arriving, and the audio is cut into 20 ms frames stamped with their offset in the stream.
 */
export function sentenceTts(synthesizer: SentenceSynthesizer): TTS {
  return {
    name: synthesizer.name,
    sampleRate: synthesizer.sampleRate,
    stream: (options) => new SentenceTtsStream(synthesizer, options),
    prewarm: synthesizer.prewarm?.bind(synthesizer),
    close: synthesizer.close?.bind(synthesizer),
  };
}

class SentenceTtsStream implements TtsStream {
  private pending = '';
  private readonly segments = new AsyncQueue<string>();
  private readonly output = new AsyncQueue<TtsAudio>();

  constructor(
    private readonly synthesizer: SentenceSynthesizer,
    private readonly options: TtsStreamOptions,
  ) {
    void this.run();
  }

  pushText(text: string): void {
    this.pending += text;
  }

  flush(): void {
    // Empty segments still get an index so segment numbers match the caller's flush count.
    this.segments.push(this.pending);
    this.pending = '';
  }

  end(): void {
    if (this.pending.trim()) this.flush();
    this.segments.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.output[Symbol.asyncIterator]();
  }

  private async run(): Promise<void> {
    const { signal } = this.options;
    const frameSamples = samplesForMs(DEFAULT_FRAME_MS, this.synthesizer.sampleRate);
    let segment = -1;
    let emittedSamples = 0;
    try {
      for await (const text of this.segments) {
        segment++;
        if (signal.aborted) break;
        if (!text.trim()) continue;
        let carry = new Int16Array(0);
        const emit = (samples: Int16Array) => {
          this.output.push({
            segment,
            frame: {
              samples,
              sampleRate: this.synthesizer.sampleRate,
              timestampMs: (emittedSamples * 1000) / this.synthesizer.sampleRate,
            },
          });
          emittedSamples += samples.length;
        };
        for await (const chunk of this.synthesizer.synthesize(text, signal)) {
          if (signal.aborted) break;
          const joined = new Int16Array(carry.length + chunk.length);
          joined.set(carry);
          joined.set(chunk, carry.length);
          let offset = 0;
          for (; offset + frameSamples <= joined.length; offset += frameSamples) {
            emit(joined.slice(offset, offset + frameSamples));
          }
          carry = joined.slice(offset);
        }
        if (carry.length > 0 && !signal.aborted) emit(carry);
      }
      this.output.end();
    } catch (error) {
      if (signal.aborted) this.output.end();
      else this.output.fail(error);
    }
  }
}
