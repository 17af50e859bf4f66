/** A change function of ClusterState.commit returns KEEP to leave its key as it is (its revision is still compared). */
export const KEEP: unique symbol = Symbol('keep')
