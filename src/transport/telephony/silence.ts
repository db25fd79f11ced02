import type { AgentSession } from '../../agent/session.ts';

export interface SilenceOptions {
  /** Caller silent this long while the agent listens: the prompt is said. 0 turns the watch off. Default 10 000 ms. */
  timeoutMs: number;
  prompt: string;
  /** Prompts said before the call is ended (after one more `timeoutMs` of silence). Default 1. */
  maxPrompts: number;
  /** Said before hanging up. */
  goodbye: string;
}

export const DEFAULT_SILENCE: SilenceOptions = {
  timeoutMs: 10_000,
  prompt: 'Are you still there?',
  maxPrompts: 1,
  goodbye: "I'll hang up now. Goodbye!",
};

/**
 * "Are you still there?": armed whenever the agent is listening and nobody speaks, disarmed by any speech. After
 * `maxPrompts` unanswered prompts the agent says goodbye and `hangUp` is called.
 */
export class SilenceWatch {
  private readonly options: SilenceOptions;
  private cancel: (() => void) | undefined;
  private prompts = 0;
  private readonly off: () => void;
  private closed = false;

  constructor(
    private readonly session: AgentSession,
    options: Partial<SilenceOptions>,
    private readonly hangUp: () => void,
  ) {
    this.options = { ...DEFAULT_SILENCE, ...options };
    this.off = session.on('state', ({ state }) => {
      if (state === 'userSpeaking') this.prompts = 0;
      if (state === 'listening') this.arm();
      else this.disarm();
    });
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.disarm();
    this.off();
  }

  private arm(): void {
    this.disarm();
    if (this.closed || this.options.timeoutMs <= 0) return;
    this.cancel = this.session.clock.schedule(this.options.timeoutMs, () => this.fire());
  }

  private disarm(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private fire(): void {
    if (this.closed) return;
    const last = this.prompts >= this.options.maxPrompts;
    this.prompts++;
    const text = last ? this.options.goodbye : this.options.prompt;
    const said = text ? this.session.say(text).catch(() => undefined) : Promise.resolve();
    if (last) void said.then(() => this.hangUp());
  }
}
