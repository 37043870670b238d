export { Courier, COURIER_DEFAULTS, type CourierDeps, type CourierHooks, type CourierSettings, type CourierTimers } from './courier.ts';
