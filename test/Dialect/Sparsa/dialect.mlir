// RUN: sparsa-opt %s --split-input-file --verify-diagnostics

/// The sparsa dialect is registered with sparsa-opt (its fused ops land with
/// the fusion families): an unknown op is rejected *by the dialect*, which an
/// unregistered dialect would report differently ("found in unregistered
/// dialect").

func.func @sparsa_dialect_registered() {
  // expected-error @+1 {{unregistered operation 'sparsa.not_an_op' found in dialect ('sparsa') that does not allow unknown operations}}
  "sparsa.not_an_op"() : () -> ()
  return
}
