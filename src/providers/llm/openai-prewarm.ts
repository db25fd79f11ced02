import type OpenAI from 'openai';
import { APIError } from 'openai';

/**
 * Opens the connection (DNS, TCP, TLS) with a cheap `GET /models`. Any HTTP answer counts as warm (some
 * compatible servers have no /models); an unreachable server throws the raw error.
 */
export async function prewarmModels(client: OpenAI, timeoutMs: number): Promise<void> {
  try {
    await client.models.list({ timeout: timeoutMs });
  } catch (error) {
    if (error instanceof APIError && error.status !== undefined) return;
    throw error;
  }
}
