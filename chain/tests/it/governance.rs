//! Governance: who may propose and vote, when a proposal passes, what each
//! action changes and from which height, and every rejection.

use merit_chain::encoding::BoundedString;
use merit_chain::governance::*;
use merit_chain::ledger::{GenesisState, GenesisToken};
use merit_chain::limits::MAX_VALIDATORS;
use merit_chain::merchant::{
    MerchantName, MerchantRecord, P2pAddressText, SignedMerchant, ValidatorRecord,
};
use merit_chain::state::MerchantInfo;
use merit_chain::tx::TxBody;
use merit_chain::{ConsensusParams, Event, Keypair, Ledger, Receipt, RejectCode, TxKind};

use crate::fixture::{GENESIS_TIME_MS, chain_id, key, sym};

/// Every rejection code a governance test met.
static SEEN: std::sync::Mutex<std::collections::BTreeSet<RejectCode>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The codes of governance's own rules.
pub(crate) fn is_governance_code(c: RejectCode) -> bool {
    c.number() >= 60
}

/// A merchant's three keys.
pub(crate) struct Keys {
    pub(crate) account: Keypair,
    pub(crate) validator: Keypair,
    pub(crate) p2p: Keypair,
}

pub(crate) fn keys(label: &str) -> Keys {
    Keys {
        account: key(&format!("{label}/account")),
        validator: key(&format!("{label}/validator")),
        p2p: key(&format!("{label}/p2p")),
    }
}

pub(crate) fn record(label: &str, k: &Keys, validator: bool) -> Box<SignedMerchant> {
    Box::new(
        MerchantRecord {
            name: MerchantName::new(label).unwrap(),
            account: k.account.public(),
            validator: validator.then(|| ValidatorRecord {
                key: k.validator.public(),
                p2p_key: k.p2p.public(),
                p2p_address: P2pAddressText::new("/ip4/127.0.0.1/tcp/26601").unwrap(),
            }),
        }
        .sign(
            &k.account,
            validator.then_some(&k.validator),
            validator.then_some(&k.p2p),
        ),
    )
}

/// Four merchants running validators; merchant 0 issues BEAN.
pub(crate) struct Gov {
    pub(crate) ledger: Ledger,
    pub(crate) m: Vec<Keys>,
    nonce: u64,
}

impl Gov {
    pub(crate) fn new() -> Self {
        Gov::with(4)
    }

    /// `n` merchants running validators.
    fn with(n: usize) -> Self {
        let m: Vec<Keys> = (0..n).map(|i| keys(&format!("gov-{i}"))).collect();
        let genesis = GenesisState {
            merchants: m
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let r = record(&format!("merchant-{i}"), k, true).record;
                    (
                        k.account.public(),
                        MerchantInfo {
                            name: r.name,
                            validator: r.validator,
                        },
                    )
                })
                .collect(),
            tokens: vec![GenesisToken {
                symbol: sym("BEAN"),
                name: BoundedString::new("Beans").unwrap(),
                decimals: 2,
                max_supply: 1_000_000,
                expiry_days: None,
                freezable: false,
                clawback: false,
                issuer: m[0].account.public(),
            }],
            ..GenesisState::default()
        };
        let (ledger, _) = Ledger::genesis(chain_id(), GENESIS_TIME_MS, &genesis).unwrap();
        Gov {
            ledger,
            m,
            nonce: 0,
        }
    }

    fn block(&mut self, txs: Vec<(&Keypair, TxKind)>) -> Vec<Receipt> {
        self.block_full(txs).1
    }

    /// Executes `txs` in the next block; returns the block and its receipts.
    pub(crate) fn block_full(
        &mut self,
        txs: Vec<(&Keypair, TxKind)>,
    ) -> (merit_chain::Block, Vec<Receipt>) {
        let height = self.ledger.height();
        let txs = txs
            .into_iter()
            .map(|(k, kind)| {
                self.nonce += 1;
                TxBody {
                    chain_id: chain_id(),
                    sender: k.public(),
                    sub: 0,
                    nonce: self.nonce,
                    expires_at_height: height + 10,
                    kind,
                }
                .sign(k)
            })
            .collect();
        let time = self.ledger.tip().timestamp_ms + 1_000;
        let proposer = self.ledger.validators_at(height + 1).unwrap()[0].key;
        let (block, outcome) = self.ledger.build_block(0, time, proposer, txs);
        let replay = self.ledger.verify_block(&block).unwrap();
        assert_eq!(replay.state_root, outcome.state_root);
        let receipts = outcome.receipts.clone();
        self.ledger.apply(&block.header, outcome);
        self.ledger.check_consistency().unwrap();
        (block, receipts)
    }

    fn exec(&mut self, who: &Keypair, kind: TxKind) -> Result<Vec<Event>, RejectCode> {
        let r = self.block(vec![(who, kind)]).remove(0);
        match r.code() {
            Some(c) => {
                SEEN.lock().unwrap().insert(c);
                Err(c)
            }
            None => Ok(r.events().to_vec()),
        }
    }

    /// Proposes `action` from merchant 0 with voting open for 20 blocks;
    /// returns the proposal's id.
    pub(crate) fn propose(&mut self, action: GovAction) -> u64 {
        let ends = self.ledger.height() + 20;
        let events = self
            .exec(
                &self.m[0].account.clone(),
                TxKind::Propose {
                    action,
                    voting_ends_height: ends,
                },
            )
            .unwrap();
        match events.as_slice() {
            [Event::Proposed { proposal, .. }] => *proposal,
            other => panic!("{other:?}"),
        }
    }

    pub(crate) fn vote(
        &mut self,
        i: usize,
        id: u64,
        approve: bool,
    ) -> Result<Vec<Event>, RejectCode> {
        let k = self.m[i].account.clone();
        self.exec(
            &k,
            TxKind::Vote {
                proposal: id,
                approve,
            },
        )
    }

    /// Empty blocks up to `height`.
    pub(crate) fn advance_to(&mut self, height: u64) {
        while self.ledger.height() < height {
            self.block(vec![]);
        }
    }

    fn validator_keys_at(&self, height: u64) -> Vec<merit_chain::PublicKey> {
        self.ledger
            .validators_at(height)
            .unwrap()
            .iter()
            .map(|v| v.key)
            .collect()
    }
}

#[test]
fn a_merchant_joins_with_a_quorum_of_votes_and_its_validator_from_the_activation_height() {
    let mut g = Gov::new();
    let new = keys("newcomer");
    let id = g.propose(GovAction::AddMerchant {
        merchant: record("Newcomer", &new, true),
    });
    assert_eq!(g.vote(0, id, true).unwrap().len(), 1);
    assert_eq!(g.vote(1, id, true).unwrap().len(), 1);
    // The third approval of four is the quorum (n − f = 3).
    let events = g.vote(2, id, true).unwrap();
    let pass_height = g.ledger.height();
    let activation = pass_height + ACTIVATION_DELAY_BLOCKS;
    assert_eq!(
        events[1],
        Event::ProposalPassed {
            proposal: id,
            activation_height: activation
        }
    );
    // Decided now, in force later: the set of every height is known ahead.
    assert_eq!(g.validator_keys_at(activation - 1).len(), 4);
    assert_eq!(g.validator_keys_at(activation).len(), 5);
    assert!(g.ledger.merchant(&new.account.public()).is_none());
    // The header of each block names its set and the next one.
    g.advance_to(activation - 1);
    let tip = g.ledger.tip().clone();
    assert_eq!(
        tip.validators_hash,
        validators_hash(g.ledger.validators_at(activation - 1).unwrap())
    );
    assert_eq!(
        tip.next_validators_hash,
        validators_hash(g.ledger.validators_at(activation).unwrap())
    );
    assert_ne!(tip.validators_hash, tip.next_validators_hash);
    // From the activation height on it is a merchant and votes.
    assert!(g.ledger.merchant(&new.account.public()).is_some());
    assert_eq!(
        g.ledger.proposal(id).unwrap().status,
        ProposalStatus::Passed {
            height: pass_height,
            activation_height: activation
        }
    );
    let params = GovAction::SetConsensusParams {
        timeout_base_ms: 2_000,
        timeout_max_ms: 40_000,
        precision_ms: 400,
        message_delay_ms: 1_500,
    };
    let id2 = g.propose(params);
    assert_eq!(
        g.exec(
            &new.account,
            TxKind::Vote {
                proposal: id2,
                approve: true
            }
        )
        .map(|e| e.len()),
        Ok(1)
    );
}

#[test]
fn only_merchants_whose_validator_is_in_force_propose_and_vote() {
    let mut g = Gov::new();
    let outsider = key("outsider");
    let action = GovAction::RemoveMerchant {
        account: g.m[3].account.public(),
    };
    assert_eq!(
        g.exec(
            &outsider,
            TxKind::Propose {
                action: action.clone(),
                voting_ends_height: 20
            }
        ),
        Err(RejectCode::NotValidatorMerchant)
    );
    let id = g.propose(action);
    assert_eq!(
        g.exec(
            &outsider,
            TxKind::Vote {
                proposal: id,
                approve: true
            }
        ),
        Err(RejectCode::NotValidatorMerchant)
    );
    // The validator key itself is not the merchant that votes.
    let v = g.m[1].validator.clone();
    assert_eq!(
        g.exec(
            &v,
            TxKind::Vote {
                proposal: id,
                approve: true
            }
        ),
        Err(RejectCode::NotValidatorMerchant)
    );
}

#[test]
fn every_rule_of_voting_has_its_rejection() {
    let mut g = Gov::new();
    let id = g.propose(GovAction::ReassignIssuer {
        token: sym("BEAN"),
        new_issuer: key("new-issuer").public(),
    });
    assert_eq!(g.vote(0, 999, true), Err(RejectCode::UnknownProposal));
    g.vote(0, id, true).unwrap();
    assert_eq!(g.vote(0, id, false), Err(RejectCode::AlreadyVoted));
    // Two no votes of four are more than f = 1: rejected.
    g.vote(1, id, false).unwrap();
    let events = g.vote(2, id, false).unwrap();
    assert_eq!(events[1], Event::ProposalRejected { proposal: id });
    assert_eq!(g.vote(3, id, true), Err(RejectCode::ProposalClosed));

    // Voting ends: no vote is taken from its end height on.
    let ends = g.ledger.height() + 3;
    let m0 = g.m[0].account.clone();
    let events = g
        .exec(
            &m0,
            TxKind::Propose {
                action: GovAction::ScheduleUpgrade {
                    protocol_version: 2,
                    height: ends + ACTIVATION_DELAY_BLOCKS + 1,
                },
                voting_ends_height: ends,
            },
        )
        .unwrap();
    let Event::Proposed { proposal: late, .. } = events[0] else {
        panic!("{events:?}")
    };
    g.advance_to(ends - 1);
    assert_eq!(g.vote(1, late, true), Err(RejectCode::VotingEnded));
    assert_eq!(
        g.ledger
            .proposal(late)
            .unwrap()
            .shown_status(g.ledger.height() + 1),
        "expired"
    );

    // A voting period that ends in its own block, or too far ahead of it.
    for ahead in [1, MAX_VOTING_PERIOD_BLOCKS + 2] {
        let ends = g.ledger.height() + ahead;
        assert_eq!(
            g.exec(
                &m0,
                TxKind::Propose {
                    action: GovAction::RemoveMerchant {
                        account: g.m[3].account.public()
                    },
                    voting_ends_height: ends
                }
            ),
            Err(RejectCode::InvalidVotingPeriod)
        );
    }
}

#[test]
fn open_proposals_are_bounded() {
    let mut g = Gov::new();
    for _ in 0..MAX_OPEN_PROPOSALS {
        g.propose(GovAction::ReassignIssuer {
            token: sym("BEAN"),
            new_issuer: key("x").public(),
        });
    }
    let m0 = g.m[0].account.clone();
    let ends = g.ledger.height() + 20;
    assert_eq!(
        g.exec(
            &m0,
            TxKind::Propose {
                action: GovAction::ReassignIssuer {
                    token: sym("BEAN"),
                    new_issuer: key("x").public()
                },
                voting_ends_height: ends
            }
        ),
        Err(RejectCode::TooManyProposals)
    );
}

#[test]
fn each_action_refuses_what_it_cannot_do() {
    let mut g = Gov::new();
    let m0 = g.m[0].account.clone();
    let ends = 30;
    let propose = |action| TxKind::Propose {
        action,
        voting_ends_height: ends,
    };
    // A forged record: signed by another key than the validator it names.
    let new = keys("forger");
    let mut forged = record("Forger", &new, true);
    forged.proofs.validator_key = Some(key("someone-else").sign(&forged.record.signing_bytes()));
    assert_eq!(
        g.exec(&m0, propose(GovAction::AddMerchant { merchant: forged })),
        Err(RejectCode::InvalidMerchant)
    );
    // A record changed after signing.
    let mut changed = record("Changed", &new, true);
    changed.record.name = MerchantName::new("Someone Else").unwrap();
    assert_eq!(
        g.exec(&m0, propose(GovAction::AddMerchant { merchant: changed })),
        Err(RejectCode::InvalidMerchant)
    );
    // An account that is already a merchant, and a validator key in use.
    let again = record("Again", &keys("gov-1"), true);
    assert_eq!(
        g.exec(&m0, propose(GovAction::AddMerchant { merchant: again })),
        Err(RejectCode::MerchantExists)
    );
    let mut thief = keys("thief");
    thief.validator = g.m[2].validator.clone();
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::AddMerchant {
                merchant: record("Thief", &thief, true)
            })
        ),
        Err(RejectCode::KeyInUse)
    );
    // Unknown merchant, unknown token, parameters out of bounds, an upgrade
    // to version 0 or at a height voting could not reach.
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::RemoveMerchant {
                account: key("nobody").public()
            })
        ),
        Err(RejectCode::UnknownMerchant)
    );
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::ReassignIssuer {
                token: sym("NOPE"),
                new_issuer: key("x").public()
            })
        ),
        Err(RejectCode::UnknownToken)
    );
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::SetConsensusParams {
                timeout_base_ms: 1_000,
                timeout_max_ms: 30_000,
                precision_ms: 0,
                message_delay_ms: 2_000
            })
        ),
        Err(RejectCode::ParamOutOfBounds)
    );
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::ScheduleUpgrade {
                protocol_version: 0,
                height: 1_000
            })
        ),
        Err(RejectCode::InvalidUpgrade)
    );
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::ScheduleUpgrade {
                protocol_version: 2,
                height: ends + 1
            })
        ),
        Err(RejectCode::InvalidUpgrade)
    );
    // Rotating to a key of the record's own or another validator.
    let mut rotate = keys("gov-1");
    rotate.validator = g.m[3].validator.clone();
    assert_eq!(
        g.exec(
            &m0,
            propose(GovAction::RotateValidatorKey {
                merchant: record("merchant-1", &rotate, true)
            })
        ),
        Err(RejectCode::KeyInUse)
    );
}

#[test]
fn the_last_validator_cannot_leave() {
    let mut g = Gov::new();
    // Remove three of four, one after another; the last one stays.
    for leaving in [3usize, 2, 1] {
        let id = g.propose(GovAction::RemoveMerchant {
            account: g.m[leaving].account.public(),
        });
        let voters: Vec<usize> = (0..=leaving).collect();
        let need = g.ledger.validators_at(g.ledger.height() + 1).unwrap().len();
        let quorum = merit_chain::consensus::quorum_size(need);
        for v in voters.iter().take(quorum) {
            g.vote(*v, id, true).unwrap();
        }
        let status = g.ledger.proposal(id).unwrap().status;
        let ProposalStatus::Passed {
            activation_height, ..
        } = status
        else {
            panic!("{status:?}")
        };
        g.advance_to(activation_height);
        assert_eq!(g.validator_keys_at(activation_height).len(), leaving);
    }
    let m0 = g.m[0].account.clone();
    let ends = g.ledger.height() + 10;
    assert_eq!(
        g.exec(
            &m0,
            TxKind::Propose {
                action: GovAction::RemoveMerchant {
                    account: m0.public()
                },
                voting_ends_height: ends
            }
        ),
        Err(RejectCode::NoValidatorLeft)
    );
}

#[test]
fn removed_validators_votes_no_longer_count() {
    let mut g = Gov::new();
    let target = GovAction::ReassignIssuer {
        token: sym("BEAN"),
        new_issuer: key("new-issuer").public(),
    };
    // Merchant 3 approves a proposal, then is voted out.
    let slow = g.propose(target.clone());
    g.vote(3, slow, true).unwrap();
    let out = g.propose(GovAction::RemoveMerchant {
        account: g.m[3].account.public(),
    });
    for v in 0..3 {
        g.vote(v, out, true).unwrap();
    }
    let Some(ProposalRecord {
        status: ProposalStatus::Passed {
            activation_height, ..
        },
        ..
    }) = g.ledger.proposal(out).cloned()
    else {
        panic!()
    };
    g.advance_to(activation_height);
    // Now n = 3 and a quorum is 3: its old approval no longer counts, and
    // it can no longer vote.
    g.vote(0, slow, true).unwrap();
    let events = g.vote(1, slow, true).unwrap();
    assert_eq!(events.len(), 1, "two of three is not a quorum: {events:?}");
    assert_eq!(g.vote(3, slow, true), Err(RejectCode::NotValidatorMerchant));
    let events = g.vote(2, slow, true).unwrap();
    assert!(matches!(events[1], Event::ProposalPassed { .. }));
}

#[test]
fn two_set_changes_that_pass_together_take_effect_at_different_heights() {
    let mut g = Gov::new();
    let a = keys("joiner-a");
    let b = keys("joiner-b");
    let ida = g.propose(GovAction::AddMerchant {
        merchant: record("A", &a, true),
    });
    let idb = g.propose(GovAction::AddMerchant {
        merchant: record("B", &b, true),
    });
    // Both pass in one block.
    let mut votes = Vec::new();
    for v in 0..3 {
        let k = g.m[v].account.clone();
        votes.push((
            k.clone(),
            TxKind::Vote {
                proposal: ida,
                approve: true,
            },
        ));
        votes.push((
            k,
            TxKind::Vote {
                proposal: idb,
                approve: true,
            },
        ));
    }
    let votes: Vec<(&Keypair, TxKind)> = votes.iter().map(|(k, t)| (k, t.clone())).collect();
    let receipts = g.block(votes);
    assert!(receipts.iter().all(|r| r.code().is_none()));
    let at = |id| match g.ledger.proposal(id).unwrap().status {
        ProposalStatus::Passed {
            activation_height, ..
        } => activation_height,
        s => panic!("{s:?}"),
    };
    let (ha, hb) = (at(ida), at(idb));
    assert_eq!(hb, ha + 1, "at most one validator change per height");
    assert_eq!(g.validator_keys_at(ha).len(), 5);
    assert_eq!(g.validator_keys_at(hb).len(), 6);
    assert_eq!(g.ledger.validator_history().len(), 3);
}

#[test]
fn a_rotated_key_replaces_the_old_one_in_place_and_a_reassigned_issuer_mints() {
    let mut g = Gov::new();
    let mut rotated = keys("gov-2");
    rotated.validator = key("gov-2/validator-2");
    let id = g.propose(GovAction::RotateValidatorKey {
        merchant: record("merchant-2", &rotated, true),
    });
    for v in 0..3 {
        g.vote(v, id, true).unwrap();
    }
    let issuer = key("new-issuer");
    let re = g.propose(GovAction::ReassignIssuer {
        token: sym("BEAN"),
        new_issuer: issuer.public(),
    });
    for v in 0..3 {
        g.vote(v, re, true).unwrap();
    }
    let activation = match g.ledger.proposal(re).unwrap().status {
        ProposalStatus::Passed {
            activation_height, ..
        } => activation_height,
        s => panic!("{s:?}"),
    };
    g.advance_to(activation);
    let set = g.validator_keys_at(activation);
    assert_eq!(
        set[2],
        rotated.validator.public(),
        "same place in the order"
    );
    assert!(!set.contains(&g.m[2].validator.public()));
    let mint = |to: &Keypair| TxKind::Mint {
        token: sym("BEAN"),
        to: to.public().into(),
        amount: 5,
    };
    let old = g.m[0].account.clone();
    assert_eq!(g.exec(&old, mint(&old)), Err(RejectCode::NotIssuer));
    assert!(g.exec(&issuer, mint(&old)).is_ok());
}

#[test]
fn consensus_parameters_and_upgrades_take_effect_at_activation() {
    let mut g = Gov::new();
    let id = g.propose(GovAction::SetConsensusParams {
        timeout_base_ms: 2_000,
        timeout_max_ms: 40_000,
        precision_ms: 400,
        message_delay_ms: 1_500,
    });
    for v in 0..3 {
        g.vote(v, id, true).unwrap();
    }
    let upgrade_at = g.ledger.height() + 100;
    let up = g.propose(GovAction::ScheduleUpgrade {
        protocol_version: PROTOCOL_VERSION + 1,
        height: upgrade_at,
    });
    for v in 0..3 {
        g.vote(v, up, true).unwrap();
    }
    let activation = match g.ledger.proposal(up).unwrap().status {
        ProposalStatus::Passed {
            activation_height, ..
        } => activation_height,
        s => panic!("{s:?}"),
    };
    assert_eq!(g.ledger.upgrade(), None);
    g.advance_to(activation - 1);
    let p = g.ledger.consensus_params();
    assert_eq!(
        (p.timeout_base_ms, p.precision_ms, p.heartbeat_ms),
        (2_000, 400, ConsensusParams::default().heartbeat_ms)
    );
    let plan = g.ledger.upgrade().unwrap();
    assert_eq!(plan.height, upgrade_at);
    assert!(plan.supports(upgrade_at - 1));
    assert!(!plan.supports(upgrade_at), "this software cannot run it");
}

#[test]
fn an_issuer_only_merchant_joins_and_creates_and_mints_a_token() {
    let mut g = Gov::new();
    let shop = keys("issuer-only");
    let id = g.propose(GovAction::AddMerchant {
        merchant: record("Corner Shop", &shop, false),
    });
    for v in 0..3 {
        g.vote(v, id, true).unwrap();
    }
    let activation = match g.ledger.proposal(id).unwrap().status {
        ProposalStatus::Passed {
            activation_height, ..
        } => activation_height,
        s => panic!("{s:?}"),
    };
    assert_eq!(
        g.ledger.validator_history().len(),
        1,
        "the set does not change"
    );
    g.advance_to(activation - 1);
    let create = TxKind::CreateToken {
        symbol: sym("SHOP"),
        name: BoundedString::new("Shop Points").unwrap(),
        decimals: 0,
        max_supply: 1_000,
        expiry_days: None,
        freezable: false,
        clawback: false,
    };
    assert!(g.exec(&shop.account, create).is_ok());
    let mint = TxKind::Mint {
        token: sym("SHOP"),
        to: key("shopper").public().into(),
        amount: 7,
    };
    assert!(g.exec(&shop.account, mint).is_ok());
    // It runs no validator, so it neither proposes nor votes.
    assert_eq!(
        g.exec(
            &shop.account,
            TxKind::Vote {
                proposal: id,
                approve: true
            }
        ),
        Err(RejectCode::NotValidatorMerchant)
    );
}

#[test]
fn a_full_set_takes_no_more_validators() {
    let mut g = Gov::with(MAX_VALIDATORS);
    let m0 = g.m[0].account.clone();
    let ends = g.ledger.height() + 10;
    assert_eq!(
        g.exec(
            &m0,
            TxKind::Propose {
                action: GovAction::AddMerchant {
                    merchant: record("One Too Many", &keys("one-too-many"), true)
                },
                voting_ends_height: ends
            }
        ),
        Err(RejectCode::TooManyValidators)
    );
}

#[test]
fn every_governance_rejection_code_is_reached() {
    a_merchant_joins_with_a_quorum_of_votes_and_its_validator_from_the_activation_height();
    only_merchants_whose_validator_is_in_force_propose_and_vote();
    every_rule_of_voting_has_its_rejection();
    open_proposals_are_bounded();
    each_action_refuses_what_it_cannot_do();
    the_last_validator_cannot_leave();
    removed_validators_votes_no_longer_count();
    a_full_set_takes_no_more_validators();
    let seen = SEEN.lock().unwrap();
    let missing: Vec<_> = RejectCode::ALL
        .iter()
        .filter(|c| is_governance_code(**c) && !seen.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "governance codes never reached: {missing:?}"
    );
}
