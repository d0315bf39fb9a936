//! The overlay: the scratch state of a block and of the transaction being
//! executed, read through to the committed state.

use crate::block::TxOutcome;
use crate::state::*;

/// Writes of the block so far, and of the transaction being executed.
pub(super) struct Overlay<'a> {
    base: &'a StateMap,
    pub(super) block: StateChanges,
    tx: StateChanges,
}

impl<'a> Overlay<'a> {
    pub(super) fn new(base: &'a StateMap) -> Self {
        Overlay {
            base,
            block: StateChanges::new(),
            tx: StateChanges::new(),
        }
    }

    pub(super) fn get(&self, k: &StateKey) -> Option<&StateValue> {
        if let Some(v) = self.tx.get(k) {
            return v.as_ref();
        }
        match self.block.get(k) {
            Some(v) => v.as_ref(),
            None => self.base.get(k),
        }
    }

    /// The live entries with keys in `lo..=hi`, in key order, as the
    /// transaction sees them: the three layers merged, deletions hidden.
    pub(super) fn range(&self, lo: &StateKey, hi: &StateKey) -> OverlayRange<'_> {
        let r = (
            std::ops::Bound::Included(lo.clone()),
            std::ops::Bound::Included(hi.clone()),
        );
        OverlayRange {
            tx: self.tx.range(r.clone()).peekable(),
            block: self.block.range(r.clone()).peekable(),
            base: self.base.range(r).peekable(),
        }
    }

    pub(super) fn put(&mut self, k: StateKey, v: StateValue) {
        self.tx.insert(k, Some(v));
    }

    pub(super) fn delete(&mut self, k: StateKey) {
        self.tx.insert(k, None);
    }

    pub(super) fn commit_tx(&mut self) {
        // One insert per write: `BTreeMap::append` would rebuild the whole
        // block map on every transaction.
        for (k, v) in std::mem::take(&mut self.tx) {
            self.block.insert(k, v);
        }
    }

    /// Merges the writes of a transaction whose verdict is final into the
    /// block. Only an accepted transaction's writes may get there: every
    /// check that can reject one runs before this.
    pub(super) fn commit_accepted(&mut self, outcome: &TxOutcome) {
        assert!(
            matches!(outcome, TxOutcome::Committed { .. }),
            "the writes of a rejected transaction would reach the block: {outcome:?}"
        );
        self.commit_tx();
    }

    pub(super) fn rollback_tx(&mut self) {
        self.tx.clear();
    }
}

type Layer<'s, V> = std::iter::Peekable<std::collections::btree_map::Range<'s, StateKey, V>>;

/// A merged, ordered walk over the overlay's layers; see [`Overlay::range`].
pub(super) struct OverlayRange<'s> {
    tx: Layer<'s, Option<StateValue>>,
    block: Layer<'s, Option<StateValue>>,
    base: Layer<'s, StateValue>,
}

impl<'s> Iterator for OverlayRange<'s> {
    type Item = (&'s StateKey, &'s StateValue);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let in_tx = self.tx.peek().map(|(k, _)| *k);
            let in_block = self.block.peek().map(|(k, _)| *k);
            let in_base = self.base.peek().map(|(k, _)| *k);
            let key = [in_tx, in_block, in_base].into_iter().flatten().min()?;
            // Every layer holding `key` moves on; the top-most one decides.
            let mut value: Option<Option<&'s StateValue>> = None;
            if in_tx == Some(key) {
                value = self.tx.next().map(|(_, v)| v.as_ref());
            }
            if in_block == Some(key) {
                let v = self.block.next().map(|(_, v)| v.as_ref());
                value = value.or(v);
            }
            if in_base == Some(key) {
                let v = self.base.next().map(|(_, v)| Some(v));
                value = value.or(v);
            }
            if let Some(Some(v)) = value {
                return Some((key, v));
            }
        }
    }
}
