import type { ProviderConfig } from '../config/schema.js'
import { ExecProvider } from './exec-provider.js'
import { ProcessProvider } from './process-provider.js'
import type { ProviderOptions } from './provider-options.js'
import type { Provider } from './provider.js'
import { StaticProvider } from './static-provider.js'

export type { ProviderLog, ProviderOptions } from './provider-options.js'

/** The provider of one service, from its `provider:` config. */
export function createProvider(service: string, config: ProviderConfig, options: ProviderOptions): Provider {
  switch (config.type) {
    case 'process':
      return new ProcessProvider(service, config, options)
    case 'static':
      return new StaticProvider(service, config, options)
    case 'exec':
      return new ExecProvider(service, config, options)
  }
}

/** Stops every instance a provider started (process provider; the others leave theirs to their own tools). */
export async function stopAllInstances(provider: Provider): Promise<void> {
  if (provider instanceof ProcessProvider) await provider.stopAll()
}
