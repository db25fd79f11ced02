import { createHash, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import twilio from 'twilio';

/**
 * The HTTP side of the fake phone provider: the incoming-call webhook, signed as each provider signs it (or
 * forged), and reading the answer for where to open the media stream. The stream itself: fake-provider.ts.
 */
export type Provider = 'twilio' | 'telnyx' | 'vonage';

export const PUBLIC_URL = 'https://phone.example.test';
export const TWILIO_AUTH_TOKEN = 'twilio-test-auth-token-0123456789';
export const VONAGE_SECRET = 'vonage-signature-secret-0123456789abcdef';
const telnyxKeys = generateKeyPairSync('ed25519');
/** The raw 32-byte public key, base64, as Telnyx's portal shows it. */
export const TELNYX_PUBLIC_KEY = (telnyxKeys.publicKey.export({ format: 'der', type: 'spki' }) as Buffer)
  .subarray(-32)
  .toString('base64');

export interface Webhook {
  status: number;
  body: string;
}

/** POSTs the provider's incoming-call webhook, signed like the provider (or forged, with `forge`). */
export async function callWebhook(
  serverUrl: string,
  provider: Provider,
  callId: string,
  options: { forge?: boolean } = {},
): Promise<Webhook> {
  const path = provider === 'vonage' ? '/telephony/vonage/answer' : `/telephony/${provider}/voice`;
  return postWebhook(serverUrl, provider, path, callId, options);
}

export async function postWebhook(
  serverUrl: string,
  provider: Provider,
  path: string,
  callId: string,
  options: { forge?: boolean } = {},
): Promise<Webhook> {
  const headers: Record<string, string> = {};
  let body: string;
  if (provider === 'twilio') {
    const params = {
      CallSid: callId,
      AccountSid: 'AC00000000000000000000000000000000',
      From: '+15005550006',
      To: '+15005550001',
    };
    body = new URLSearchParams(params).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const token = options.forge ? 'not-the-auth-token' : TWILIO_AUTH_TOKEN;
    headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(token, `${PUBLIC_URL}${path}`, params);
  } else if (provider === 'telnyx') {
    body = new URLSearchParams({ CallSid: callId, From: '+15005550006', To: '+15005550001' }).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const timestamp = String(Math.floor(Date.now() / 1000));
    const key = options.forge ? generateKeyPairSync('ed25519').privateKey : telnyxKeys.privateKey;
    headers['telnyx-timestamp'] = timestamp;
    headers['telnyx-signature-ed25519'] = sign(null, Buffer.from(`${timestamp}|${body}`), key).toString(
      'base64',
    );
  } else {
    body = JSON.stringify({
      uuid: callId,
      conversation_uuid: 'CON-1',
      from: '15005550006',
      to: '15005550001',
    });
    headers['content-type'] = 'application/json';
    const payloadHash = createHash('sha256').update(body).digest('hex');
    const secret = options.forge ? 'some-other-secret-0123456789abcdef' : VONAGE_SECRET;
    headers.authorization = `Bearer ${hs256({ payload_hash: payloadHash, api_key: 'abc123', iat: Math.floor(Date.now() / 1000) }, secret)}`;
  }
  const response = await fetch(`${serverUrl}${path}`, { method: 'POST', headers, body });
  return { status: response.status, body: await response.text() };
}

/** A JWT signed HS256, as Vonage signs its webhooks. */
function hs256(claims: Record<string, unknown>, secret: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** Where the answer tells the provider to stream, and the parameters it gives the stream. */
export function streamOf(
  provider: Provider,
  answer: string,
  serverUrl: string,
): { url: string; token: string } {
  let url: string;
  let token: string;
  if (provider === 'vonage') {
    const endpoint = (JSON.parse(answer) as { endpoint: { uri: string; headers: { token: string } }[] }[])[0]
      .endpoint[0];
    url = endpoint.uri;
    token = endpoint.headers.token;
  } else {
    url = /<Stream[^>]* url="([^"]+)"/.exec(answer)?.[1]?.replace(/&amp;/g, '&') ?? '';
    token =
      /<Parameter name="token" value="([^"]+)"/.exec(answer)?.[1] ??
      new URL(url).searchParams.get('token') ??
      '';
  }
  const local = new URL(url);
  return { url: `${serverUrl.replace('http', 'ws')}${local.pathname}${local.search}`, token };
}
