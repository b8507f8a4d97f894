import { createApp } from './http/app';

export { HITLState } from './hitl/hitl-state';

export default createApp();
