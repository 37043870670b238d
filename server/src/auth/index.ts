export { PlayerTokens, TokenRefusalReasons, type TokenKey, type TokenRefusalReason, type TokenSettings, type VerifiedPlayer } from './player-tokens.ts';
