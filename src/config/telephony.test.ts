import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { telephonyServerOptions } from './telephony.ts';

const create = async () => {
  throw new Error('not called here');
};

describe('telephony configuration', () => {
  it('REPARTEE_TELEPHONY_PUBLIC_URL turns it on; each provider is served when its secret is in the environment', async () => {
    const config = await loadConfig({
      file: '/nonexistent/repartee.config.json',
      env: { REPARTEE_TELEPHONY_PUBLIC_URL: 'https://calls.example.com' },
    });
    expect(config.telephony).toMatchObject({
      publicUrl: 'https://calls.example.com',
      silenceTimeoutMs: 10_000,
    });
    const options = telephonyServerOptions(config.telephony, { TWILIO_AUTH_TOKEN: 'abc' }, create, () => {});
    expect(options?.twilio).toEqual({ authToken: 'abc' });
    expect(options?.telnyx).toBeUndefined();
    expect(options?.vonage).toBeUndefined();
    expect(options?.call?.silence?.prompt).toBe('Are you still there?');
    expect(options?.busyMessage).toMatch(/lines are busy/);
    const ours = telephonyServerOptions(
      { ...config.telephony!, busyMessage: 'We are full, sorry.' },
      { TWILIO_AUTH_TOKEN: 'abc' },
      create,
      () => {},
    );
    expect(ours?.busyMessage).toBe('We are full, sorry.');
    expect(() => telephonyServerOptions(config.telephony, {}, create, () => {})).toThrow(/TWILIO_AUTH_TOKEN/);
    expect(telephonyServerOptions(undefined, { TWILIO_AUTH_TOKEN: 'abc' }, create, () => {})).toBeUndefined();
  });

  it('answeringMachine reaches the call options; leaveMessage without a message is refused', async () => {
    const env = { REPARTEE_TELEPHONY_PUBLIC_URL: 'https://calls.example.com' };
    const config = await loadConfig({ file: '/nonexistent/repartee.config.json', env });
    const telephony = {
      ...config.telephony!,
      answeringMachine: { detect: true, onMachine: 'hangUp' as const, message: '' },
    };
    const options = telephonyServerOptions(telephony, { TWILIO_AUTH_TOKEN: 'abc' }, create, () => {});
    expect(options?.call?.answeringMachine).toEqual({ detect: true, onMachine: 'hangUp', message: '' });
    const { TelephonyConfigSchema } = await import('./telephony.ts');
    const bad = TelephonyConfigSchema.safeParse({
      publicUrl: 'https://calls.example.com',
      answeringMachine: { detect: true, onMachine: 'leaveMessage' },
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.message).toMatch(/message is empty/);
  });

  it('a public URL that is not http(s) is refused', async () => {
    await expect(
      loadConfig({
        file: '/nonexistent/repartee.config.json',
        env: { REPARTEE_TELEPHONY_PUBLIC_URL: 'ftp://x' },
      }),
    ).rejects.toThrow(/telephony/);
  });
});
