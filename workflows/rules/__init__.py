"""Pure decisions about a running order: what an intervention may do now, what undoing
steps takes, whether a return or an appeasement fits. No `temporalio` here: each rule reads
the order's state (`rules.state.FlowState`) and a request, so validators, the workflow and the
property tests call the same code."""
