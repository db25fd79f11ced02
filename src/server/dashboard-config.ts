import { z } from 'zod';

/** `dashboard` in the configuration: the page at /dashboard/ and its prices for the cost column. */
export const DashboardConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Prices to turn usage into cost per session (the provider's list prices; 0: show usage only). */
    pricing: z
      .object({
        promptTokensPerMillion: z.number().min(0),
        completionTokensPerMillion: z.number().min(0),
        ttsCharactersPerMillion: z.number().min(0),
        sttPerMinute: z.number().min(0),
      })
      .partial()
      .strict()
      .default({}),
  })
  .strict();
