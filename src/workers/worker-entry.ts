import { runWorker } from './worker-main.js'

runWorker()
