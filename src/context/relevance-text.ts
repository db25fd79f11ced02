// The terms of lexical search live in src/search/terms.ts (shared with the docs server's search tool).
export { searchTerm, tokenize } from '../search/terms.ts';
