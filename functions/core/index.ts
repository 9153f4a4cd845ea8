/** The browser-safe core: no AWS SDK, no cdktf, no `ws`, no Node built-ins. */
export * from './errors';
export * from './limits';
export * from './channels';
export * from './claims';
export * from './envelope';
export * from './tables';
export * from './config';
export * from './event-request';
export * from './authorizer-contract';
export * from './message';
export * from './own';
export * from './token-format';
