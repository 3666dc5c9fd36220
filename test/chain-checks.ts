/** The chains' own checks (scripts/chain-checks.ts), with the assertions the tests make of them. */
import { FailedTransactionMetadata, type TransactionMetadata } from 'litesvm'
import { expect } from 'vitest'
import { SIGNATURE_FAILURE } from '../scripts/chain-checks.js'

export { bitcore, bitcoreCheck, fromWire, SIGNATURE_FAILURE, type BitcoreOutput, type Prevout } from '../scripts/chain-checks.js'

export function expectSignatureFailure (res: TransactionMetadata | FailedTransactionMetadata): void {
  expect(res).toBeInstanceOf(FailedTransactionMetadata)
  expect((res as FailedTransactionMetadata).err()).toBe(SIGNATURE_FAILURE)
}
