//! Helpers shared by the tests: re-signing a merchant entry that a test
//! edited, so that the rule under test, not a broken proof, refuses it.

use merit_chain::encoding::BoundedString;
use merit_chain::merchant::{MerchantRecord, ValidatorRecord};
use merit_chain::{Keypair, PublicKey};
use merit_genesis::{GenesisFile, MerchantEntry, MerchantFile, devnet};

/// A test key from a label.
pub fn test_key(label: &str) -> Keypair {
    Keypair::insecure_from_label(&format!("genesis-it/{label}"))
}

/// The default devnet's keys and the test keys named `labels`.
fn pool(labels: &[&str]) -> Vec<Keypair> {
    let layout = devnet::devnet(4, 26601, 8545);
    let mut keys: Vec<Keypair> = layout
        .merchants
        .iter()
        .flat_map(|m| [m.account.clone(), m.validator.clone(), m.p2p.clone()])
        .collect();
    keys.extend(labels.iter().map(|l| test_key(l)));
    keys
}

/// Signs merchant `i`'s entry exactly as written, with whichever keys of
/// the default devnet (or the test keys `labels`) it names. The entry's
/// fields must parse.
pub fn resign(f: &mut GenesisFile, i: usize, labels: &[&str]) {
    let pool = pool(labels);
    let find = |s: &str| -> Keypair {
        let public = PublicKey::from_bech32(s).unwrap();
        pool.iter()
            .find(|k| k.public() == public)
            .unwrap_or_else(|| panic!("no test key for {s}"))
            .clone()
    };
    let m = &f.merchants[i];
    let account = find(&m.account);
    let node = m.validator_key.as_ref().map(|v| {
        (
            find(v),
            find(m.p2p_key.as_ref().unwrap()),
            m.p2p_address.clone().unwrap(),
        )
    });
    let record = MerchantRecord {
        name: BoundedString::new(m.name.as_str()).unwrap(),
        account: account.public(),
        validator: node.as_ref().map(|(v, p, a)| ValidatorRecord {
            key: v.public(),
            p2p_key: p.public(),
            p2p_address: BoundedString::new(a.as_str()).unwrap(),
        }),
    };
    let signed = record.sign(
        &account,
        node.as_ref().map(|(v, _, _)| v),
        node.as_ref().map(|(_, p, _)| p),
    );
    let rpc = f.merchants[i].rpc_address.clone();
    f.merchants[i] = MerchantEntry::new(MerchantFile::from_signed(&signed), rpc);
}
