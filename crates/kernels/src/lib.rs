//! The numeric kernels behind botbuilder's NLU training: multinomial
//! logistic regression for intents and a linear-chain sequence labeller for
//! learned entities. A crate of their own so that debug builds (and the
//! test suite, which trains real bots) run them optimized; the rest of
//! botbuilder reaches them as `botbuilder::ml::classifier::logreg` and
//! `botbuilder::ml::labeller`.

pub mod labeller;
pub mod logreg;
