import type { ToolCall, ToolSchema } from '../providers/llm/contract.ts';
import { type Tool, toolSchema } from '../tools/tool.ts';

export interface ToolResult {
  content: string;
  isError: boolean;
}

/**
 * Runs the tools an LLM asks for. Unknown tools, unparsable or invalid arguments and throwing tools become
 * error results the LLM can read: a bad tool call never ends the session.
 */
export class ToolRunner {
  private readonly tools = new Map<string, Tool>();

  constructor(tools: readonly Tool[] = []) {
    for (const tool of tools) this.tools.set(tool.name, tool);
  }

  get schemas(): ToolSchema[] {
    return [...this.tools.values()].map(toolSchema);
  }

  get size(): number {
    return this.tools.size;
  }

  async run(call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
    const tool = this.tools.get(call.name);
    if (!tool) return { content: `Error: no tool named "${call.name}"`, isError: true };
    let raw: unknown;
    try {
      raw = call.arguments.trim() ? JSON.parse(call.arguments) : {};
    } catch {
      return { content: `Error: arguments of ${call.name} are not valid JSON`, isError: true };
    }
    const parsed = tool.parameters.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      return { content: `Error: invalid arguments for ${call.name}: ${issues}`, isError: true };
    }
    try {
      const value = await tool.execute(parsed.data, { signal });
      return { content: typeof value === 'string' ? value : JSON.stringify(value ?? null), isError: false };
    } catch (error) {
      if (signal.aborted) throw error;
      return {
        content: `Error: ${call.name} failed: ${(error as Error).message ?? String(error)}`,
        isError: true,
      };
    }
  }
}
