import { z } from 'zod';
import type { AgentSession } from '../agent/session.ts';
import { DEFAULT_BUSY_MESSAGE, type TelephonyOptions } from '../server/telephony.ts';
import type { CallLogEntry, PhoneCallInfo } from '../transport/telephony/call.ts';
import type { CallControl } from '../transport/telephony/control.ts';

/**
 * `telephony` in repartee.config.json: where the providers reach this server and how calls behave. The providers'
 * secrets come only from the environment: TWILIO_AUTH_TOKEN, TELNYX_PUBLIC_KEY, VONAGE_SIGNATURE_SECRET; a
 * provider is served when its secret is set.
 */
export const TelephonyConfigSchema = z
  .object({
    /** The public https:// URL of this server as the providers reach it (a tunnel's or a proxy's). */
    publicUrl: z.url({ protocol: /^https?$/ }),
    /** Caller silent this long while the agent listens: "Are you still there?"; 0 turns it off. */
    silenceTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
    silencePrompt: z.string().max(500).default('Are you still there?'),
    silenceGoodbye: z.string().max(500).default("I'll hang up now. Goodbye!"),
    /** Said by the provider to a call that comes when every line is busy (the session cap), before hanging up. */
    busyMessage: z.string().min(1).max(500).default(DEFAULT_BUSY_MESSAGE),
    /** −60 dBFS noise in the gaps of the agent's speech instead of nothing (no provider documents needing it). */
    comfortNoise: z.boolean().default(false),
    /** Answering-machine / voicemail detection at the start of each call (the greeting's length and the beep). */
    answeringMachine: z
      .object({
        detect: z.boolean().default(false),
        /** `leaveMessage`: wait for the beep, say `message`, hang up; `hangUp`: end the call at once. */
        onMachine: z.enum(['leaveMessage', 'hangUp']).default('hangUp'),
        message: z.string().max(2000).default(''),
      })
      .strict()
      .refine((a) => a.onMachine !== 'leaveMessage' || a.message.trim() !== '', {
        message: "answeringMachine.onMachine is 'leaveMessage' but answeringMachine.message is empty",
      })
      .optional(),
  })
  .strict();

export type TelephonyConfig = z.infer<typeof TelephonyConfigSchema>;

export const TELEPHONY_SECRETS = [
  'TWILIO_AUTH_TOKEN',
  'TELNYX_PUBLIC_KEY',
  'VONAGE_SIGNATURE_SECRET',
] as const;

/** The server's telephony options from the configuration and the environment; undefined when not configured. */
export function telephonyServerOptions(
  config: TelephonyConfig | undefined,
  env: Record<string, string | undefined>,
  createCallSession: (call: PhoneCallInfo, control: CallControl) => Promise<AgentSession>,
  log: (entry: CallLogEntry) => void,
): TelephonyOptions | undefined {
  if (!config) return undefined;
  const twilio = env.TWILIO_AUTH_TOKEN;
  const telnyx = env.TELNYX_PUBLIC_KEY;
  const vonage = env.VONAGE_SIGNATURE_SECRET;
  if (!twilio && !telnyx && !vonage) {
    throw new Error(
      `telephony.publicUrl is set but no provider secret is: set ${TELEPHONY_SECRETS.join(', ')} (any of them)`,
    );
  }
  return {
    publicUrl: config.publicUrl,
    ...(twilio ? { twilio: { authToken: twilio } } : {}),
    ...(telnyx ? { telnyx: { publicKey: telnyx } } : {}),
    ...(vonage ? { vonage: { signatureSecret: vonage } } : {}),
    createCallSession,
    log,
    busyMessage: config.busyMessage,
    call: {
      silence: {
        timeoutMs: config.silenceTimeoutMs,
        prompt: config.silencePrompt,
        goodbye: config.silenceGoodbye,
      },
      ...(config.answeringMachine ? { answeringMachine: config.answeringMachine } : {}),
      comfortNoise: config.comfortNoise,
    },
  };
}
