/** The pure crypto layer: FROST suites, DKG and signing sessions, share and keystore encryption. */
export * from './errors.js'
export * from './suites.js'
export * from './ecies.js'
export * from './keystore.js'
export * from './dkg.js'
export * from './sign.js'
export * from './hd.js'
export * from './reshare.js'
