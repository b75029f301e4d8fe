//! The `showdown` command line. Every flag also reads an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::{ServerConfig, Timing};
use crate::limits::Limits;

/// Showdown: a real-time No-Limit Hold'em server.
#[derive(Debug, Parser)]
#[command(name = "showdown", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the server (SQLite by default; heuristic bots need no configuration).
    Serve(Box<ServeArgs>),
    /// Bulk AI-vs-AI experiments, in this process (no server needed).
    #[command(subcommand)]
    Experiment(ExperimentCommand),
}

/// `showdown experiment ...`
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Run a spec (TOML or JSON) into a results folder; Ctrl-C stops cleanly and can be resumed.
    Run {
        /// The spec file.
        spec: PathBuf,
        /// Results folder (default: results/<spec name>-<time>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// LLM providers and models, for `llm:` seats.
        #[arg(long, env = "SHOWDOWN_LLM_CONFIG")]
        llm_config: Option<PathBuf>,
    },
    /// Continue a stopped run from its results folder.
    Resume {
        /// The results folder.
        dir: PathBuf,
        /// LLM providers and models, for `llm:` seats.
        #[arg(long, env = "SHOWDOWN_LLM_CONFIG")]
        llm_config: Option<PathBuf>,
    },
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `showdown serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SHOWDOWN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Database: `sqlite://PATH` (or a file path), or `postgres://USER@HOST/DB`.
    #[arg(long, env = "SHOWDOWN_DATABASE_URL", default_value = "sqlite://showdown.db")]
    pub database_url: String,
    /// TOML config of LLM providers and models (see docs/llm.example.toml); enables `llm:` seats.
    #[arg(long, env = "SHOWDOWN_LLM_CONFIG")]
    pub llm_config: Option<PathBuf>,
    /// Admin API key (full hand histories, table creation without a player token).
    #[arg(long, env = "SHOWDOWN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Log format.
    #[arg(long, env = "SHOWDOWN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Live tables held in memory.
    #[arg(long, env = "SHOWDOWN_MAX_TABLES", default_value_t = Limits::default().max_tables)]
    pub max_tables: usize,
    /// Open client connections.
    #[arg(long, env = "SHOWDOWN_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    pub max_connections: usize,
    /// Spectators per table.
    #[arg(long, env = "SHOWDOWN_MAX_SPECTATORS", default_value_t = Limits::default().max_spectators_per_table)]
    pub max_spectators: usize,
    /// Sustained messages per second per connection.
    #[arg(long, env = "SHOWDOWN_MESSAGES_PER_SEC", default_value_t = Limits::default().messages_per_sec)]
    pub messages_per_sec: u32,
    /// Burst of messages above the sustained rate.
    #[arg(long, env = "SHOWDOWN_MESSAGE_BURST", default_value_t = Limits::default().message_burst)]
    pub message_burst: u32,
    /// Largest client frame, bytes.
    #[arg(long, env = "SHOWDOWN_MAX_FRAME_BYTES", default_value_t = Limits::default().max_frame_bytes)]
    pub max_frame_bytes: usize,
    /// Messages refused for rate in a row before a connection is closed.
    #[arg(long, env = "SHOWDOWN_FLOOD_STRIKES", default_value_t = Limits::default().flood_strikes)]
    pub flood_strikes: u32,
    /// Longest chat line, characters.
    #[arg(long, env = "SHOWDOWN_MAX_CHAT_CHARS", default_value_t = Limits::default().max_chat_chars)]
    pub max_chat_chars: usize,
    /// Tables one connection may join at once.
    #[arg(long, env = "SHOWDOWN_MAX_JOINED_TABLES", default_value_t = Limits::default().max_joined_tables)]
    pub max_joined_tables: usize,
    /// Open connections from one client address (the admin key is exempt).
    #[arg(long, env = "SHOWDOWN_MAX_CONNECTIONS_PER_IP", default_value_t = Limits::default().max_connections_per_ip)]
    pub max_connections_per_ip: usize,
    /// New connections per second from one client address (bursts of five seconds' worth).
    #[arg(long, env = "SHOWDOWN_CONNECTS_PER_IP_PER_SEC", default_value_t = Limits::default().connects_per_ip_per_sec)]
    pub connects_per_ip_per_sec: u32,
    /// Seconds a disconnected player keeps the seat.
    #[arg(long, env = "SHOWDOWN_DISCONNECT_GRACE_SECS", default_value_t = 120)]
    pub disconnect_grace_secs: u64,
    /// Seconds an abandoned table stays in memory.
    #[arg(long, env = "SHOWDOWN_IDLE_TTL_SECS", default_value_t = 300)]
    pub idle_ttl_secs: u64,
    /// Pause between hands at realtime tables, ms.
    #[arg(long, env = "SHOWDOWN_BETWEEN_HANDS_MS", default_value_t = 3000)]
    pub between_hands_ms: u64,
    /// Chips a new player starts with.
    #[arg(long, env = "SHOWDOWN_STARTING_BALANCE", default_value_t = 10_000)]
    pub starting_balance: u64,
    /// Cluster (Postgres only): this node's name, unique among the nodes
    /// sharing the database (default: the host name). A node restarted under
    /// the same name and address takes its tables back at once; a second
    /// live process with the name (another address) is refused at start.
    #[arg(long = "node-id", env = "SHOWDOWN_NODE_ID", help_heading = "Cluster")]
    pub node_id: Option<String>,
    /// Cluster: the URL peers and clients reach this node at (default:
    /// `http://` and the bound address).
    #[arg(long, env = "SHOWDOWN_ADVERTISE", help_heading = "Cluster")]
    pub advertise: Option<String>,
    /// Cluster: how long this node's registration lives without renewal
    /// (renewed every fifth of it); a dead node's tables move after about this long.
    #[arg(
        long,
        env = "SHOWDOWN_NODE_TTL_MS",
        default_value_t = 5000,
        help_heading = "Cluster"
    )]
    pub node_ttl_ms: u64,
    /// Cluster: Redis (`redis://host:port`), so that any node serves any
    /// table: a node mirrors the tables its clients join that other nodes
    /// run, and forwards their commands. Without it a client must join a
    /// table at the node that runs it (`table_elsewhere` names it).
    #[arg(long, env = "SHOWDOWN_REDIS_URL", help_heading = "Cluster")]
    pub redis_url: Option<String>,
    /// Cluster: the prefix of this cluster's Redis channels (several
    /// clusters may share one Redis).
    #[arg(
        long,
        env = "SHOWDOWN_REDIS_PREFIX",
        default_value = "showdown:",
        help_heading = "Cluster"
    )]
    pub redis_prefix: String,
}

impl ServeArgs {
    /// The server configuration these options describe.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            bind: self.bind,
            database_url: self.database_url.clone(),
            llm_config: self.llm_config.clone(),
            api_key: self.api_key.clone().filter(|k| !k.is_empty()),
            limits: Limits {
                max_tables: self.max_tables,
                max_connections: self.max_connections,
                max_spectators_per_table: self.max_spectators,
                messages_per_sec: self.messages_per_sec,
                message_burst: self.message_burst,
                max_frame_bytes: self.max_frame_bytes,
                flood_strikes: self.flood_strikes,
                max_chat_chars: self.max_chat_chars,
                max_joined_tables: self.max_joined_tables,
                max_connections_per_ip: self.max_connections_per_ip,
                connects_per_ip_per_sec: self.connects_per_ip_per_sec,
            },
            timing: Timing {
                disconnect_grace: Duration::from_secs(self.disconnect_grace_secs),
                idle_ttl: Duration::from_secs(self.idle_ttl_secs),
                between_hands: Duration::from_millis(self.between_hands_ms),
            },
            starting_balance: self.starting_balance,
            node_id: self.node_id.clone().filter(|n| !n.is_empty()),
            advertise: self.advertise.clone().filter(|a| !a.is_empty()),
            node_ttl: Duration::from_millis(self.node_ttl_ms.max(1_000)),
            redis_url: self.redis_url.clone().filter(|u| !u.is_empty()),
            redis_prefix: self.redis_prefix.clone(),
        }
    }
}
