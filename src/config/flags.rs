//! The flag tables and the one parser that reads them.
//!
//! Each subcommand declares its flags once, in a [`Command`]'s table: name,
//! default (written as it would be on the command line) and a line of help.
//! The parser ([`Flags`]) looks every value up in that table — a default is
//! parsed exactly like a value the user typed — and `--help` is printed from
//! it ([`help`]), so the flags the parser accepts and the flags the help
//! lists cannot drift apart.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

/// One flag of a subcommand.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    /// The name after `--`, e.g. `shared-file`.
    pub name: &'static str,
    /// Whether the flag takes a value, and which one it has when not given.
    pub kind: Kind,
    /// One line saying what the flag does.
    pub help: &'static str,
}

/// What a [`Flag`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A value; the default is the text a user would write, parsed the same way.
    Value(&'static str),
    /// A bare switch: off unless given.
    Switch,
}

impl Flag {
    /// A flag that takes a value, with its default as command-line text.
    pub const fn value(name: &'static str, default: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Value(default),
            help,
        }
    }

    /// A bare switch, off unless given.
    pub const fn switch(name: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Switch,
            help,
        }
    }

    /// The default as `--help` shows it.
    pub fn default_text(&self) -> &'static str {
        match self.kind {
            Kind::Value(default) => default,
            Kind::Switch => "off",
        }
    }
}

/// A subcommand: its name, what it does, and its flags.
#[derive(Clone, Copy, Debug)]
pub struct Command {
    /// The word after `rinha`.
    pub name: &'static str,
    /// One line for `rinha --help`.
    pub summary: &'static str,
    /// Every flag the subcommand accepts, in the order `--help` lists them.
    pub flags: &'static [Flag],
}

/// `rinha <command> --help`: the command's flags, each with its default and
/// its line of help.
pub fn help(command: &Command) -> String {
    let width = |text: fn(&Flag) -> usize| command.flags.iter().map(text).max().unwrap_or(0);
    let name_width = width(|flag| flag.name.len()) + 2;
    let default_width = width(|flag| flag.default_text().len());
    let mut text = format!(
        "usage: rinha {} [--flag value ...]\n\n{}\n\nflags (default, then what it does):\n",
        command.name, command.summary
    );
    for flag in command.flags {
        text += &format!(
            "  {:name_width$}  {:default_width$}  {}\n",
            format!("--{}", flag.name),
            flag.default_text(),
            flag.help,
        );
    }
    text += &format!("\n{ENVIRONMENT_NOTE}");
    text
}

/// `rinha --help`: every command with its one line.
pub fn usage(commands: &[Command]) -> String {
    let width = commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut text = String::from("usage: rinha <command> [--flag value ...]\n\ncommands:\n");
    for command in commands {
        text += &format!("  {:width$}  {}\n", command.name, command.summary);
    }
    text += &format!("\n`rinha <command> --help` lists a command's flags.\n{ENVIRONMENT_NOTE}");
    text
}

/// How every flag's environment twin works, for both helps.
const ENVIRONMENT_NOTE: &str = "\
Every --flag also reads RINHA_FLAG from the environment (e.g. --shared-file ⇔ RINHA_SHARED_FILE);
a flag on the command line wins. A switch takes 1/true/yes/on or 0/false/no/off.
A flag given twice is an error.";

/// Where a flag's environment twin is looked up: the process environment
/// in the binary, a table in tests (no test has to mutate the environment
/// of a process whose other threads read it).
pub type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// The process environment, for [`Env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The flags given to one subcommand, consumed as the parser looks them up
/// in the subcommand's table.
pub struct Flags<'e> {
    table: &'static [Flag],
    /// Which entries of `table` the parser has looked up.
    read: Vec<bool>,
    pairs: Vec<(String, Option<String>)>,
    env: Env<'e>,
}

impl<'e> Flags<'e> {
    /// Splits `--name value`, `--name=value` and bare `--switch`; a flag
    /// given twice is an error (which of the two was meant?).
    pub fn new(
        table: &'static [Flag],
        args: &[String],
        env: Env<'e>,
    ) -> Result<Flags<'e>, ConfigError> {
        let mut pairs: Vec<(String, Option<String>)> = Vec::new();
        let mut rest = args.iter().peekable();
        while let Some(arg) = rest.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(ConfigError(format!("unexpected argument {arg:?}")));
            };
            let pair = match name.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => {
                    let value = rest.next_if(|next| !next.starts_with("--")).cloned();
                    (name.to_string(), value)
                }
            };
            if pairs.iter().any(|(name, _)| *name == pair.0) {
                return Err(ConfigError(format!("--{} given twice", pair.0)));
            }
            pairs.push(pair);
        }
        Ok(Flags {
            table,
            read: vec![false; table.len()],
            pairs,
            env,
        })
    }

    /// The flag's value, else its environment twin, else its default from
    /// the table.
    pub fn get<T: FromStr>(&mut self, name: &str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        let Kind::Value(default) = self.declared(name)?.kind else {
            return Err(ConfigError(format!("--{name} is a switch, not a value")));
        };
        let text = match self.take(name)? {
            Some(text) => text,
            None => (self.env)(&env_name(name)).unwrap_or_else(|| default.to_string()),
        };
        text.parse()
            .map_err(|e| ConfigError(format!("--{name} {text:?}: {e}")))
    }

    /// A duration given in milliseconds.
    pub fn millis(&mut self, name: &str) -> Result<Duration, ConfigError> {
        self.get(name).map(Duration::from_millis)
    }

    /// A bare switch such as `--no-purge`; `--switch=false` turns it off,
    /// and so does its environment twin set to `0`, `false`, `no` or `off`.
    pub fn switch(&mut self, name: &str) -> Result<bool, ConfigError> {
        if self.declared(name)?.kind != Kind::Switch {
            return Err(ConfigError(format!("--{name} takes a value, not a switch")));
        }
        match self.take_pair(name) {
            Some((_, None)) => Ok(true),
            Some((_, Some(text))) => parse_switch(&text)
                .ok_or_else(|| ConfigError(format!("--{name} {SWITCH_SPELLINGS}, not {text:?}"))),
            None => match (self.env)(&env_name(name)) {
                None => Ok(false),
                Some(text) => parse_switch(&text).ok_or_else(|| {
                    ConfigError(format!(
                        "{} {SWITCH_SPELLINGS}, not {text:?}",
                        env_name(name)
                    ))
                }),
            },
        }
    }

    /// A flag of the table that `form` does not take: an error if it was
    /// given (on the command line; an environment twin is left alone, as
    /// it may be meant for another form), else marked as read.
    pub fn not_for(&mut self, name: &str, form: &str) -> Result<(), ConfigError> {
        self.declared(name)?;
        match self.take_pair(name) {
            Some(_) => Err(ConfigError(format!("--{name} does not apply to {form}"))),
            None => Ok(()),
        }
    }

    /// Every flag given must have been looked up by now, and every flag of
    /// the table too (one the parser never reads would be listed by
    /// `--help` and silently ignored).
    pub fn finish(self) -> Result<(), ConfigError> {
        if let Some((name, _)) = self.pairs.first() {
            return Err(ConfigError(format!("unknown flag --{name}")));
        }
        match self.read.iter().position(|read| !read) {
            Some(index) => Err(ConfigError(format!(
                "--{} is declared but never read (a bug in config)",
                self.table[index].name
            ))),
            None => Ok(()),
        }
    }

    /// The table's entry for `name`, marked as read; a name the table
    /// lacks is a bug in the parser, reported like any other error.
    fn declared(&mut self, name: &str) -> Result<Flag, ConfigError> {
        let index = self
            .table
            .iter()
            .position(|flag| flag.name == name)
            .ok_or_else(|| {
                ConfigError(format!(
                    "--{name} is read but not declared (a bug in config)"
                ))
            })?;
        self.read[index] = true;
        Ok(self.table[index])
    }

    fn take(&mut self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.take_pair(name) {
            Some((_, Some(value))) => Ok(Some(value)),
            Some((_, None)) => Err(ConfigError(format!("--{name} needs a value"))),
            None => Ok(None),
        }
    }

    fn take_pair(&mut self, name: &str) -> Option<(String, Option<String>)> {
        let index = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.remove(index))
    }
}

/// What a switch accepts, for its error message.
const SWITCH_SPELLINGS: &str = "takes 1/true/yes/on or 0/false/no/off";

/// The usual spellings of a boolean, in any case; `None` for anything else
/// (an empty value included): a typo must not silently mean "off".
fn parse_switch(text: &str) -> Option<bool> {
    const ON: [&str; 4] = ["1", "true", "yes", "on"];
    const OFF: [&str; 4] = ["0", "false", "no", "off"];
    let spelled = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(text));
    match (spelled(ON), spelled(OFF)) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// `--shared-file` → `RINHA_SHARED_FILE`.
fn env_name(flag: &str) -> String {
    format!("RINHA_{}", flag.replace('-', "_").to_ascii_uppercase())
}
