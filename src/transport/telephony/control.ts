import { z } from 'zod';
import type { AgentState } from '../../agent/events.ts';
import type { Clock } from '../../metrics/clock.ts';
import { defineTool, type Tool } from '../../tools/tool.ts';
import { DTMF_DIGITS, dtmfTones } from './dtmf.ts';

/** Call control from the agent (its tools) and from code (the API). */
export interface CallControl {
  /** Ends the call; by default once the agent's current reply (its goodbye) has been heard. */
  hangUp(options?: { reason?: string; afterSpeech?: boolean }): Promise<void>;
  /** Hands the call to another number (E.164, e.g. +14155550100) once the current reply has been heard. */
  transfer(to: string): Promise<void>;
  /** Plays keypad tones in the call (in-band DTMF): for menus of the far end. */
  sendDtmf(digits: string): Promise<void>;
  /** `end_call`, `transfer_call`, `send_dtmf` for the session's LLM. */
  tools(): Tool[];
}

export interface CallControllerHooks {
  hangUp(reason: string, transferTo?: string): void;
  sendAudio(samples: Int16Array): void;
  canTransfer: boolean;
  state(): AgentState | undefined;
  onSpeechEnded(listener: () => void): () => void;
  clock(): Clock | undefined;
  sampleRate(): number;
}

/** The longest wait for the goodbye to be heard before the line is cut anyway. */
const MAX_GOODBYE_WAIT_MS = 15_000;
const NUMBER = /^(\+[1-9][0-9]{6,14}|sip:[^\s<>"]+)$/;

export class CallController implements CallControl {
  constructor(private readonly hooks: CallControllerHooks) {}

  async hangUp(options: { reason?: string; afterSpeech?: boolean } = {}): Promise<void> {
    if (options.afterSpeech ?? true) await this.afterCurrentSpeech();
    this.hooks.hangUp(options.reason ?? 'the agent hung up');
  }

  async transfer(to: string): Promise<void> {
    if (!this.hooks.canTransfer) throw new Error('transfer is not available on this provider');
    if (!NUMBER.test(to))
      throw new Error(`not a number to transfer to: ${JSON.stringify(to)} (E.164, e.g. +14155550100)`);
    await this.afterCurrentSpeech();
    this.hooks.hangUp(`transferred to ${to}`, to);
  }

  async sendDtmf(digits: string): Promise<void> {
    if (!DTMF_DIGITS.test(digits))
      throw new Error(`not DTMF digits: ${JSON.stringify(digits)} (0-9, *, #, A-D)`);
    const tones = dtmfTones(digits, this.hooks.sampleRate());
    this.hooks.sendAudio(tones);
    const ms = (tones.length * 1000) / this.hooks.sampleRate();
    const clock = this.hooks.clock();
    if (clock) await clock.sleep(ms);
  }

  tools(): Tool[] {
    const tools: Tool[] = [
      defineTool({
        name: 'end_call',
        description:
          'Hang up the phone call. Say goodbye in the same reply; the line is cut once it has been heard.',
        parameters: z.object({ reason: z.string().max(200).optional() }),
        execute: async ({ reason }) => {
          void this.hangUp({
            reason: reason ? `the agent ended the call: ${reason}` : 'the agent ended the call',
          });
          return { ok: true, note: 'the call ends after this reply' };
        },
      }),
      defineTool({
        name: 'send_dtmf',
        description: 'Press keys on the phone keypad (digits 0-9, * and #), e.g. to navigate a phone menu.',
        parameters: z.object({ digits: z.string().regex(DTMF_DIGITS).max(32) }),
        execute: async ({ digits }) => {
          await this.sendDtmf(digits);
          return { ok: true, sent: digits };
        },
      }),
    ];
    if (this.hooks.canTransfer)
      tools.push(
        defineTool({
          name: 'transfer_call',
          description:
            'Transfer the caller to another phone number (E.164, e.g. +14155550100) after this reply.',
          parameters: z.object({ to: z.string().regex(NUMBER) }),
          execute: async ({ to }) => {
            void this.transfer(to).catch(() => undefined);
            return { ok: true, note: `the call is transferred to ${to} after this reply` };
          },
        }),
      );
    return tools;
  }

  private async afterCurrentSpeech(): Promise<void> {
    const state = this.hooks.state();
    if (state !== 'speaking' && state !== 'thinking') return;
    await new Promise<void>((resolve) => {
      const off = this.hooks.onSpeechEnded(() => {
        off();
        clearTimeout(timer);
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        resolve();
      }, MAX_GOODBYE_WAIT_MS);
    });
  }
}
