export { PlayerTokens, type TokenKey, type TokenSettings, type VerifiedPlayer } from './player-tokens.ts';
