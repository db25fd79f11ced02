import { DEFAULT_FRAME_MS, samplesForMs } from '../../audio/frame.ts';
import type { SentenceSynthesizer, TTS, TtsStreamOptions } from './contract.ts';
import { SegmentQueueStream } from './segment-queue-stream.ts';

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

class SentenceTtsStream extends SegmentQueueStream {
  constructor(
    private readonly synthesizer: SentenceSynthesizer,
    private readonly options: TtsStreamOptions,
  ) {
    super('drop');
    void this.run();
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
