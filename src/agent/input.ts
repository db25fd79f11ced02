import { type AudioFrame, PIPELINE_SAMPLE_RATE, validateFrame } from '../audio/frame.ts';
import { Resampler } from '../audio/resampler.ts';

/**
 * Validates user audio and brings it to the pipeline's 16 kHz. The first frame at a new rate waits for its
 * resampler to load (milliseconds); frames keep their order meanwhile.
 */
export class InputConditioner {
  private resampler: { rate: number; ready?: Resampler; queue: AudioFrame[] } | undefined;
  private closed = false;

  constructor(
    private readonly deliver: (frame: AudioFrame) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Throws AudioFormatError for a frame the pipeline cannot take. */
  push(frame: AudioFrame): void {
    validateFrame(frame);
    if (frame.sampleRate === PIPELINE_SAMPLE_RATE && !this.resampler?.queue.length) {
      this.deliver(frame);
      return;
    }
    if (frame.sampleRate === PIPELINE_SAMPLE_RATE) {
      this.resampler?.queue.push(frame);
      return;
    }
    if (this.resampler?.rate !== frame.sampleRate) this.switchRate(frame.sampleRate);
    const entry = this.resampler as { ready?: Resampler; queue: AudioFrame[] };
    if (entry.ready && entry.queue.length === 0) this.deliver(entry.ready.processFrame(frame));
    else entry.queue.push(frame);
  }

  close(): void {
    this.closed = true;
    this.resampler?.ready?.destroy();
  }

  private switchRate(rate: number): void {
    this.resampler?.ready?.destroy();
    const entry: { rate: number; ready?: Resampler; queue: AudioFrame[] } = { rate, queue: [] };
    this.resampler = entry;
    Resampler.create(rate, PIPELINE_SAMPLE_RATE).then((resampler) => {
      if (this.resampler !== entry || this.closed) return resampler.destroy();
      entry.ready = resampler;
      for (const queued of entry.queue.splice(0)) {
        this.deliver(queued.sampleRate === rate ? resampler.processFrame(queued) : queued);
      }
    }, this.onError);
  }
}
