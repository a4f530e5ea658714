"""The recovery case: states, the state machine, models and the service that changes them."""
