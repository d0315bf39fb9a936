//! Method names, subscription topics and the HTTP route of the health check,
//! and [`ALL`]: every method a node answers, with its params in order and a
//! summary of each. The node reads a call's params by the names [`ALL`]
//! gives them, and `rpc.discover` describes the methods from the same
//! table, so the two cannot tell a client different things.

use crate::params::PROPOSAL_STATUSES;

/// `merit_health()` → [`crate::Health`].
pub const HEALTH: &str = "merit_health";
/// `merit_status()` → [`crate::Status`].
pub const STATUS: &str = "merit_status";
/// `merit_sendTransaction(tx_hex)` → the transaction's hash.
pub const SEND_TRANSACTION: &str = "merit_sendTransaction";
/// `merit_getTransaction(hash)` → [`crate::TxInfo`].
pub const GET_TRANSACTION: &str = "merit_getTransaction";
/// `merit_getAccount(address)` → [`crate::Account`].
pub const GET_ACCOUNT: &str = "merit_getAccount";
/// `merit_getSubAccounts(address)` → an array of [`crate::SubAccount`].
pub const GET_SUB_ACCOUNTS: &str = "merit_getSubAccounts";
/// `merit_getToken(symbol)` → [`crate::TokenInfo`].
pub const GET_TOKEN: &str = "merit_getToken";
/// `merit_listTokens()` → an array of [`crate::TokenInfo`].
pub const LIST_TOKENS: &str = "merit_listTokens";
/// `merit_getBlock(height | "latest", {full?})` → [`crate::Block`] or `null`.
pub const GET_BLOCK: &str = "merit_getBlock";
/// `merit_getOrderBook(sell, buy, limit?)` → [`crate::OrderBook`].
pub const GET_ORDER_BOOK: &str = "merit_getOrderBook";
/// `merit_findPaths(send_token, dest_token, dest_amount)` → an array of
/// [`crate::PathFound`], cheapest first.
pub const FIND_PATHS: &str = "merit_findPaths";
/// `merit_getEscrow(id)` → [`crate::Escrow`] or `null`.
pub const GET_ESCROW: &str = "merit_getEscrow";
/// `merit_getHistory(address, cursor?, limit?)` → [`crate::HistoryPage`].
pub const GET_HISTORY: &str = "merit_getHistory";
/// `merit_audit(token?)` → an array of [`crate::AuditEntry`].
pub const AUDIT: &str = "merit_audit";
/// `merit_getEvidence({from_height?, limit?})` → an array of
/// [`crate::EvidenceEntry`].
pub const GET_EVIDENCE: &str = "merit_getEvidence";
/// `merit_validators({height?})` → [`crate::ValidatorSetInfo`].
pub const VALIDATORS: &str = "merit_validators";
/// `merit_getValidatorChanges(from_height)` → an array of
/// [`crate::ValidatorChange`].
pub const GET_VALIDATOR_CHANGES: &str = "merit_getValidatorChanges";
/// `merit_getProof(address, {tokens?, height?})` → [`crate::StateProof`].
pub const GET_PROOF: &str = "merit_getProof";
/// `merit_getTokenProof(symbol, {height?})` → [`crate::StateProof`].
pub const GET_TOKEN_PROOF: &str = "merit_getTokenProof";
/// `merit_getTxProof(hash)` → [`crate::TxProofInfo`] or `null`.
pub const GET_TX_PROOF: &str = "merit_getTxProof";
/// `merit_getNonceProof(address, nonce, {height?})` → [`crate::StateProof`].
pub const GET_NONCE_PROOF: &str = "merit_getNonceProof";
/// `merit_getDayEnds()` → an array of [`crate::DayEnd`]: the day ends
/// whose state the node proves.
pub const GET_DAY_ENDS: &str = "merit_getDayEnds";
/// `merit_getStatement(address, {from_ms, to_ms, token?, sub?})` →
/// [`crate::Statement`].
pub const GET_STATEMENT: &str = "merit_getStatement";
/// `merit_getProposal(id)` → [`crate::Proposal`] or `null`.
pub const GET_PROPOSAL: &str = "merit_getProposal";
/// `merit_listProposals({status?})` → an array of [`crate::Proposal`].
pub const LIST_PROPOSALS: &str = "merit_listProposals";
/// `merit_subscribe(topic, …)` → a subscription id (WebSocket only).
pub const SUBSCRIBE: &str = "merit_subscribe";
/// The method of every subscription notification.
pub const SUBSCRIPTION: &str = "merit_subscription";
/// `merit_unsubscribe(id)`.
pub const UNSUBSCRIBE: &str = "merit_unsubscribe";
/// `rpc.discover()` → the OpenRPC document of every method the node
/// registers.
pub const RPC_DISCOVER: &str = "rpc.discover";

/// `merit_subscribe("newBlocks")`: one [`crate::BlockNotification`] per block.
pub const TOPIC_NEW_BLOCKS: &str = "newBlocks";
/// `merit_subscribe("account", address)`: one
/// [`crate::AccountNotification`] per transaction touching the address.
pub const TOPIC_ACCOUNT: &str = "account";

/// `GET` on this path answers what [`HEALTH`] does, as a plain JSON body.
pub const HEALTH_PATH: &str = "/health";

/// Whether a call must give a param.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Always given.
    Required,
    /// May be left out or given as `null`.
    Optional,
    /// Given in one form of the call and not in another; the param's
    /// summary says which.
    Sometimes,
}

/// The JSON a param, an option or a result takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// A string: a hash, an address, a symbol, a decimal amount, hex bytes
    /// (the summary says which).
    String,
    /// A non-negative integer that fits in 64 bits.
    Integer,
    Boolean,
    /// An object whose keys the answer's documentation lists.
    Object,
    /// An object, or `null` when there is none.
    ObjectOrNull,
    /// An object of options: exactly these keys, each with its own need;
    /// any other key is refused.
    Options(&'static [Param]),
    Array,
    /// An array of strings.
    Strings,
    /// A height, or the string `"latest"`.
    HeightOrLatest,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A subscription's id, an integer or a string.
    SubscriptionId,
    /// An OpenRPC document.
    OpenRpc,
}

/// One positional param of a method, or one key of an options object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub need: Need,
    pub schema: Schema,
    pub summary: &'static str,
}

impl Param {
    /// A param every call gives.
    pub const fn required(name: &'static str, schema: Schema, summary: &'static str) -> Param {
        Param {
            name,
            need: Need::Required,
            schema,
            summary,
        }
    }

    /// A param a call may leave out or give as `null`.
    pub const fn optional(name: &'static str, schema: Schema, summary: &'static str) -> Param {
        Param {
            name,
            need: Need::Optional,
            schema,
            summary,
        }
    }
}

/// What a method answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Returns {
    pub name: &'static str,
    pub schema: Schema,
    pub summary: &'static str,
}

/// One method: its name, what it does, its params in order and what it
/// answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub result: Returns,
}

/// The method `name` as [`ALL`] describes it.
pub fn describe(name: &str) -> Option<&'static Method> {
    ALL.iter().find(|m| m.name == name)
}

const HEIGHT_OPTION: Param = Param::optional(
    "height",
    Schema::Integer,
    "the height whose state to prove: the tip's when left out",
);
const HISTORY_ADDRESS: Param = Param::required("address", Schema::String, "a bech32m address");
const SUBSCRIBE_TOPIC: Param = Param::required(
    "topic",
    Schema::OneOf(&[TOPIC_NEW_BLOCKS, TOPIC_ACCOUNT]),
    "\"newBlocks\" for every committed block, \"account\" for every transaction touching an \
     address",
);
const SUBSCRIBE_OPTIONS: Param = Param::optional(
    "options",
    Schema::Options(&[Param::optional(
        "from_height",
        Schema::Integer,
        "replay the committed blocks from this height first",
    )]),
    "{from_height?}",
);

/// `merit_getHistory`'s older positional form, `(address, cursor?,
/// limit?)`, which the node still reads when the second param is not an
/// object.
pub const GET_HISTORY_POSITIONAL_PARAMS: &[Param] = &[
    HISTORY_ADDRESS,
    Param::optional(
        "cursor",
        Schema::String,
        "HEIGHT:INDEX, the previous page's next_cursor",
    ),
    Param::optional("limit", Schema::Integer, "1 to 1000 entries, 50 by default"),
];

/// `merit_subscribe("newBlocks", {from_height?})`: the topic and the
/// options, with no address between.
pub const SUBSCRIBE_NEW_BLOCKS_PARAMS: &[Param] = &[SUBSCRIBE_TOPIC, SUBSCRIBE_OPTIONS];

/// Every method a node answers, in the order `docs/rpc.md` lists them.
pub const ALL: &[Method] = &[
    Method {
        name: STATUS,
        summary: "The node's view of the chain: height, tip, state root, peers, mempool size",
        params: &[],
        result: Returns {
            name: "status",
            schema: Schema::Object,
            summary: "the node's status",
        },
    },
    Method {
        name: SEND_TRANSACTION,
        summary: "Submits a signed transaction to the mempool and gossips it",
        params: &[Param::required(
            "tx_hex",
            Schema::String,
            "the transaction's canonical bytes in hex, 0x optional",
        )],
        result: Returns {
            name: "hash",
            schema: Schema::String,
            summary: "the transaction's hash, 64 hex digits",
        },
    },
    Method {
        name: GET_TRANSACTION,
        summary: "A transaction's status (pending, committed, rejected, unknown), block and events",
        params: &[Param::required(
            "hash",
            Schema::String,
            "the transaction's hash, 64 hex digits",
        )],
        result: Returns {
            name: "transaction",
            schema: Schema::Object,
            summary: "the transaction",
        },
    },
    Method {
        name: GET_ACCOUNT,
        summary: "An account's balances, frozen and locked points, expiring lots, offers and \
                  escrows",
        params: &[Param::required(
            "address",
            Schema::String,
            "a bech32m address, or ADDRESS/N for its sub-account N",
        )],
        result: Returns {
            name: "account",
            schema: Schema::Object,
            summary: "the account",
        },
    },
    Method {
        name: GET_SUB_ACCOUNTS,
        summary: "The sub-accounts an address opened, in order, with their labels",
        params: &[Param::required(
            "address",
            Schema::String,
            "a bech32m address",
        )],
        result: Returns {
            name: "sub_accounts",
            schema: Schema::Array,
            summary: "each opened sub-account: its number, ADDRESS/N, label and opening height",
        },
    },
    Method {
        name: GET_TOKEN,
        summary: "A token's issuer, decimals, cap, expiry and supply counters",
        params: &[Param::required(
            "symbol",
            Schema::String,
            "the token's symbol",
        )],
        result: Returns {
            name: "token",
            schema: Schema::Object,
            summary: "the token",
        },
    },
    Method {
        name: LIST_TOKENS,
        summary: "Every token, in symbol order",
        params: &[],
        result: Returns {
            name: "tokens",
            schema: Schema::Array,
            summary: "the tokens, each as merit_getToken answers",
        },
    },
    Method {
        name: GET_BLOCK,
        summary: "A block's header, transactions, memos, certificate and own events; its \
                  canonical bytes with {full: true}",
        params: &[
            Param::required(
                "block",
                Schema::HeightOrLatest,
                "a height, or \"latest\" for the tip",
            ),
            Param::optional(
                "options",
                Schema::Options(&[Param::optional(
                    "full",
                    Schema::Boolean,
                    "add the canonical bytes of the header, transactions, receipts, events \
                     and certificate",
                )]),
                "{full?}",
            ),
        ],
        result: Returns {
            name: "block",
            schema: Schema::ObjectOrNull,
            summary: "the block, or null for a height the node does not have",
        },
    },
    Method {
        name: GET_ORDER_BOOK,
        summary: "The offers selling one token for another, best price first, and the opposite \
                  side",
        params: &[
            Param::required("sell", Schema::String, "the symbol the offers sell"),
            Param::required("buy", Schema::String, "the symbol the offers buy"),
            Param::optional(
                "limit",
                Schema::Integer,
                "1 to 100 offers per side, 100 by default",
            ),
        ],
        result: Returns {
            name: "book",
            schema: Schema::Object,
            summary: "both sides of the book",
        },
    },
    Method {
        name: FIND_PATHS,
        summary: "The routes a path payment could take now, cheapest first, at most 5",
        params: &[
            Param::required("send_token", Schema::String, "the symbol paid in"),
            Param::required("dest_token", Schema::String, "the symbol delivered"),
            Param::required(
                "dest_amount",
                Schema::String,
                "the amount to deliver, a decimal string in dest_token units",
            ),
        ],
        result: Returns {
            name: "paths",
            schema: Schema::Array,
            summary: "the routes with what each costs now",
        },
    },
    Method {
        name: GET_HISTORY,
        summary: "What moved in an account, newest first, a page at a time, with its postings",
        params: &[
            HISTORY_ADDRESS,
            Param::optional(
                "options",
                Schema::Options(&[
                    Param::optional(
                        "cursor",
                        Schema::String,
                        "HEIGHT:INDEX, the previous page's next_cursor",
                    ),
                    Param::optional("limit", Schema::Integer, "1 to 1000 entries, 50 by default"),
                    Param::optional(
                        "token",
                        Schema::String,
                        "only entries that moved this token",
                    ),
                    Param::optional(
                        "sub",
                        Schema::Integer,
                        "the postings of sub-account N instead of the account's own",
                    ),
                ]),
                "{cursor?, limit?, token?, sub?}; the older positional form (address, \
                 cursor?, limit?) is still read",
            ),
        ],
        result: Returns {
            name: "page",
            schema: Schema::Object,
            summary: "the entries and the next_cursor",
        },
    },
    Method {
        name: GET_STATEMENT,
        summary: "An account's statement over a period of block time: opening and closing \
                  balances and every posting between",
        params: &[
            Param::required("address", Schema::String, "a bech32m address"),
            Param::required(
                "options",
                Schema::Options(&[
                    Param::required(
                        "from_ms",
                        Schema::Integer,
                        "the period's start, UTC milliseconds, included",
                    ),
                    Param::required(
                        "to_ms",
                        Schema::Integer,
                        "the period's end, UTC milliseconds, excluded",
                    ),
                    Param::optional("token", Schema::String, "only this token"),
                    Param::optional("sub", Schema::Integer, "sub-account N"),
                ]),
                "{from_ms, to_ms, token?, sub?}",
            ),
        ],
        result: Returns {
            name: "statement",
            schema: Schema::Object,
            summary: "the statement, per token",
        },
    },
    Method {
        name: GET_ESCROW,
        summary: "An escrow: its parties, amount, deadline and status",
        params: &[Param::required(
            "id",
            Schema::String,
            "the hash of the EscrowCreate transaction",
        )],
        result: Returns {
            name: "escrow",
            schema: Schema::ObjectOrNull,
            summary: "the escrow, or null for an unknown id",
        },
    },
    Method {
        name: AUDIT,
        summary: "The supply invariant per token, recomputed from the state",
        params: &[Param::optional(
            "token",
            Schema::String,
            "one token's symbol; every token when left out",
        )],
        result: Returns {
            name: "audit",
            schema: Schema::Array,
            summary: "one entry per token, with whether the invariant holds",
        },
    },
    Method {
        name: VALIDATORS,
        summary: "The validator set in force at a height, in proposer order",
        params: &[Param::optional(
            "options",
            Schema::Options(&[Param::optional(
                "height",
                Schema::Integer,
                "the height whose set to list: the next block's when left out",
            )]),
            "{height?}",
        )],
        result: Returns {
            name: "validators",
            schema: Schema::Object,
            summary: "the set, its hash, quorum and canonical bytes",
        },
    },
    Method {
        name: GET_VALIDATOR_CHANGES,
        summary: "The committed changes of the validator set from a height, each with the \
                  certificate of the set before",
        params: &[Param::required(
            "from_height",
            Schema::Integer,
            "the first height of the earliest change to list",
        )],
        result: Returns {
            name: "changes",
            schema: Schema::Array,
            summary: "at most 100 changes, oldest first",
        },
    },
    Method {
        name: GET_PROOF,
        summary: "An account's holdings with a Merkle proof to a certified state root",
        params: &[
            Param::required("address", Schema::String, "a bech32m address"),
            Param::optional(
                "options",
                Schema::Options(&[
                    Param::optional(
                        "tokens",
                        Schema::Strings,
                        "the symbols to prove, present or absent, at most 64; every token \
                         held when left out",
                    ),
                    Param::optional("sub", Schema::Integer, "sub-account N"),
                    Param::optional(
                        "sub_accounts",
                        Schema::Boolean,
                        "prove only how many sub-accounts the address opened (its \
                         SubAccounts entry), for a complete roll-up",
                    ),
                    HEIGHT_OPTION,
                ]),
                "{tokens?, sub?, sub_accounts?, height?}",
            ),
        ],
        result: Returns {
            name: "proof",
            schema: Schema::Object,
            summary: "the holdings, the proof's bytes, the header and certificate",
        },
    },
    Method {
        name: GET_TOKEN_PROOF,
        summary: "A token's entry with a Merkle proof to a certified state root",
        params: &[
            Param::required("symbol", Schema::String, "the token's symbol"),
            Param::optional("options", Schema::Options(&[HEIGHT_OPTION]), "{height?}"),
        ],
        result: Returns {
            name: "proof",
            schema: Schema::Object,
            summary: "the token, the proof's bytes, the header and certificate",
        },
    },
    Method {
        name: GET_NONCE_PROOF,
        summary: "Whether an account's nonce is used, with a Merkle proof to a certified state \
                  root",
        params: &[
            Param::required("address", Schema::String, "a bech32m address"),
            Param::required("nonce", Schema::Integer, "the nonce"),
            Param::optional("options", Schema::Options(&[HEIGHT_OPTION]), "{height?}"),
        ],
        result: Returns {
            name: "proof",
            schema: Schema::Object,
            summary: "nonce_used, the proof's bytes, the header and certificate",
        },
    },
    Method {
        name: GET_DAY_ENDS,
        summary: "The last block of each UTC day whose state the node proves, oldest first",
        params: &[],
        result: Returns {
            name: "day_ends",
            schema: Schema::Array,
            summary: "each day's date and last height",
        },
    },
    Method {
        name: GET_TX_PROOF,
        summary: "A committed transaction and its receipt with Merkle proofs to a certified \
                  header",
        params: &[Param::required(
            "hash",
            Schema::String,
            "the transaction's hash, 64 hex digits",
        )],
        result: Returns {
            name: "proof",
            schema: Schema::ObjectOrNull,
            summary: "the proof, or null for a transaction the node has not committed",
        },
    },
    Method {
        name: GET_PROPOSAL,
        summary: "One governance proposal: its action, votes and status",
        params: &[Param::required("id", Schema::Integer, "the proposal's id")],
        result: Returns {
            name: "proposal",
            schema: Schema::ObjectOrNull,
            summary: "the proposal, or null for an unknown id",
        },
    },
    Method {
        name: LIST_PROPOSALS,
        summary: "Every governance proposal, oldest first, or those with one status",
        params: &[Param::optional(
            "filter",
            Schema::Options(&[Param::optional(
                "status",
                Schema::OneOf(PROPOSAL_STATUSES),
                "only proposals with this status",
            )]),
            "{status?}",
        )],
        result: Returns {
            name: "proposals",
            schema: Schema::Array,
            summary: "the proposals",
        },
    },
    Method {
        name: GET_EVIDENCE,
        summary: "Pairs of conflicting statements one validator signed, as the node kept them",
        params: &[Param::optional(
            "options",
            Schema::Options(&[
                Param::optional(
                    "from_height",
                    Schema::Integer,
                    "the lowest height to list, 0 by default",
                ),
                Param::optional(
                    "limit",
                    Schema::Integer,
                    "1 to 1000 entries, 100 by default",
                ),
            ]),
            "{from_height?, limit?}",
        )],
        result: Returns {
            name: "evidence",
            schema: Schema::Array,
            summary: "the evidence, each with its canonical bytes",
        },
    },
    Method {
        name: HEALTH,
        summary: "What GET /health serves: \"ok\", the committed height and the connected peers",
        params: &[],
        result: Returns {
            name: "health",
            schema: Schema::Object,
            summary: "status, height and peers",
        },
    },
    Method {
        name: SUBSCRIBE,
        summary: "WebSocket only: streams merit_subscription notifications, one per committed \
                  block (\"newBlocks\") or per transaction touching an address (\"account\")",
        params: &[
            SUBSCRIBE_TOPIC,
            Param {
                name: "address",
                need: Need::Sometimes,
                schema: Schema::String,
                summary: "the bech32m address to follow: given for \"account\" only, and \
                          there required; \"newBlocks\" takes its options second",
            },
            SUBSCRIBE_OPTIONS,
        ],
        result: Returns {
            name: "subscription",
            schema: Schema::SubscriptionId,
            summary: "the id each notification's params.subscription carries, for \
                      merit_unsubscribe",
        },
    },
    Method {
        name: UNSUBSCRIBE,
        summary: "WebSocket only: ends a subscription",
        params: &[Param::required(
            "id",
            Schema::SubscriptionId,
            "the id merit_subscribe returned",
        )],
        result: Returns {
            name: "unsubscribed",
            schema: Schema::Boolean,
            summary: "whether the subscription was open",
        },
    },
    Method {
        name: RPC_DISCOVER,
        summary: "This OpenRPC document: every method the node serves, with its params",
        params: &[],
        result: Returns {
            name: "document",
            schema: Schema::OpenRpc,
            summary: "an OpenRPC 1.2 document",
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{
        BlockOptions, EvidenceOptions, HistoryOptions, ProofOptions, ProposalFilter,
        StatementOptions, ValidatorsOptions,
    };
    use std::collections::BTreeSet;

    /// The keys of an options schema, and whether each is required.
    fn options(method: &str, param: &str) -> Vec<(&'static str, Need)> {
        let m = describe(method).expect("described");
        let p = m
            .params
            .iter()
            .find(|p| p.name == param)
            .expect("the param");
        let Schema::Options(fields) = p.schema else {
            panic!("{method}'s {param} is not an options object");
        };
        fields.iter().map(|f| (f.name, f.need)).collect()
    }

    /// The keys the node's options type reads.
    fn keys<T: Default + serde::Serialize>() -> BTreeSet<String> {
        match serde_json::to_value(T::default()).expect("serializes") {
            serde_json::Value::Object(o) => o.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    fn names(fields: &[(&'static str, Need)]) -> BTreeSet<String> {
        fields.iter().map(|(n, _)| n.to_string()).collect()
    }

    #[test]
    fn every_method_is_described_once_with_named_params_and_required_ones_first() {
        let mut seen = BTreeSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} is described twice", m.name);
            assert!(!m.summary.is_empty(), "{} has no summary", m.name);
            assert!(!m.result.name.is_empty() && !m.result.summary.is_empty());
            let mut params = BTreeSet::new();
            let mut optional_before = None;
            for p in m.params {
                assert!(params.insert(p.name), "{}: {} twice", m.name, p.name);
                assert!(
                    !p.summary.is_empty(),
                    "{}: {} has no summary",
                    m.name,
                    p.name
                );
                match (p.need, optional_before) {
                    (Need::Required, Some(o)) => {
                        panic!("{}: {} is required after the optional {o}", m.name, p.name)
                    }
                    (Need::Required, None) => {}
                    (Need::Optional | Need::Sometimes, _) => optional_before = Some(p.name),
                }
            }
        }
        assert_eq!(describe(STATUS).map(|m| m.name), Some(STATUS));
        assert_eq!(describe(SUBSCRIPTION), None, "a notification, not a method");
        // The other forms name their params as the main forms do.
        let subscribe = describe(SUBSCRIBE).expect("described");
        assert_eq!(SUBSCRIBE_NEW_BLOCKS_PARAMS[0], subscribe.params[0]);
        assert_eq!(SUBSCRIBE_NEW_BLOCKS_PARAMS[1], subscribe.params[2]);
        let history = describe(GET_HISTORY).expect("described");
        assert_eq!(GET_HISTORY_POSITIONAL_PARAMS[0], history.params[0]);
    }

    /// `docs/rpc.md` has a section for every method, in this table's order
    /// (`merit_unsubscribe` is described in `merit_subscribe`'s).
    #[test]
    fn rpc_md_documents_every_method_in_this_order() {
        let doc = include_str!("../../docs/rpc.md");
        let headed: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("### `"))
            .filter_map(|l| l.split_once('(').map(|(name, _)| name))
            .collect();
        let described: Vec<&str> = ALL
            .iter()
            .map(|m| m.name)
            .filter(|n| *n != UNSUBSCRIBE)
            .collect();
        assert_eq!(headed, described);
        assert!(doc.contains("`merit_unsubscribe(id)`"));
    }

    /// An options object is described with exactly the keys the node's
    /// type reads (every other key is refused), so a client reading the
    /// document sends none the node refuses.
    #[test]
    fn each_options_schema_names_the_keys_its_type_reads() {
        let cases = [
            (GET_BLOCK, "options", keys::<BlockOptions>()),
            (GET_HISTORY, "options", keys::<HistoryOptions>()),
            (GET_STATEMENT, "options", keys::<StatementOptions>()),
            (VALIDATORS, "options", keys::<ValidatorsOptions>()),
            (GET_PROOF, "options", keys::<ProofOptions>()),
            (LIST_PROPOSALS, "filter", keys::<ProposalFilter>()),
            (GET_EVIDENCE, "options", keys::<EvidenceOptions>()),
        ];
        for (method, param, want) in cases {
            assert_eq!(names(&options(method, param)), want, "{method}'s {param}");
        }
        // The token and nonce proofs take only the height of ProofOptions.
        for method in [GET_TOKEN_PROOF, GET_NONCE_PROOF] {
            assert_eq!(
                options(method, "options"),
                [("height", Need::Optional)],
                "{method}"
            );
        }
        // Only a statement's period is required.
        assert_eq!(
            options(GET_STATEMENT, "options")
                .into_iter()
                .filter(|(_, need)| *need == Need::Required)
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            ["from_ms", "to_ms"]
        );
    }
}
