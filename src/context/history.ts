import type { ChatMessage } from '../providers/llm/contract.ts';

export interface HistoryItem extends ChatMessage {
  id: number;
  createdAtMs: number;
}

/**
 * The conversation as the user experienced it. The session is its only writer; readers get snapshots.
 */
export class ChatHistory {
  private items: HistoryItem[] = [];
  private nextId = 1;

  constructor(systemPrompt?: string) {
    if (systemPrompt) this.append({ role: 'system', content: systemPrompt }, 0);
  }

  append(message: ChatMessage, atMs: number): HistoryItem {
    const item: HistoryItem = { ...message, id: this.nextId++, createdAtMs: atMs };
    this.items.push(item);
    return item;
  }

  /**
   * Takes back the latest item, and only the latest (nothing said after it can have depended on it being gone):
   * a committed user turn that the user turned out to be still speaking, merged into what they say next.
   */
  removeLatest(id: number): boolean {
    if (this.items.at(-1)?.id !== id) return false;
    this.items.pop();
    return true;
  }

  /** New instructions (a handoff to another agent): the system item is replaced, the conversation kept. */
  replaceInstructions(systemPrompt: string, atMs: number): void {
    const index = this.items.findIndex((item) => item.role === 'system');
    const item: HistoryItem = { role: 'system', content: systemPrompt, id: this.nextId++, createdAtMs: atMs };
    if (index >= 0) this.items[index] = item;
    else this.items.unshift(item);
  }

  get messages(): readonly HistoryItem[] {
    return this.items;
  }

  /** Plain messages for an LLM request. */
  toMessages(): ChatMessage[] {
    return this.items.map(({ id: _id, createdAtMs: _at, ...message }) => message);
  }

  get length(): number {
    return this.items.length;
  }
}
