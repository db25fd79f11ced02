// The chat history lives in context/ (it owns history, window and summaries); agent/ code keeps importing it here.
export { ChatHistory, type HistoryItem } from '../context/history.ts';
