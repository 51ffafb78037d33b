"""CLI commands of cross-border work: ``share`` and ``match`` (match packages), and
``export referral`` (registered on the ``export`` group)."""

from __future__ import annotations

from pathlib import Path

import click

from ringmap.cli.maps import _victim_options, export_group
from ringmap.cli.session import Session, emit, format_option, pass_session, store_options
from ringmap.graphs.tokens import TOKEN_TYPES
from ringmap.signing import expected_fingerprint
from ringmap.tabular import Format
from ringmap.viz.referral import export_referrals
from ringmap.viz.share import (
    Match,
    keep_matches,
    match_case,
    match_packages,
    read_partner,
    share_case,
)

_DIR = click.Path(file_okay=False, path_type=Path)


def _types(value: str | None) -> list[str] | None:
    """``--types phone,handle``: the identifier types named (None: every type)."""
    if value is None:
        return None
    kinds = [k.strip().lower() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in TOKEN_TYPES]
    if unknown or not kinds:
        raise click.BadParameter(f"known types: {', '.join(TOKEN_TYPES)}", param_hint="--types")
    return kinds


_TYPES = click.option("--types", metavar="LIST",
                      help=f"Identifier types, comma-separated: {','.join(TOKEN_TYPES)} "
                           "[default: all].")
_REASON = click.option("--reason", metavar="TEXT", required=True,
                       help="Why (the request, the operation); recorded in the audit log.")


@click.command("share")
@store_options
@click.option("--operation", required=True, metavar="NAME",
              help="The operation whose key (RINGMAP_OPERATION_KEY_<NAME> or its key file) "
                   "the tokens are made under.")
@click.option("--out", type=_DIR, required=True, help="Package folder to create.")
@_TYPES
@click.option("--bloom", "bloom_rate", type=click.FloatRange(0, 1, min_open=True,
                                                              max_open=True),
              metavar="RATE", help="Write a Bloom filter with this false-positive rate "
                                   "(e.g. 1e-6) instead of the token list.")
@_REASON
@pass_session
def share(session: Session, operation: str, out: Path, types: str | None,
          bloom_rate: float | None, reason: str) -> None:
    """Write a match package: the case's phones, handles, e-mails, IMEIs, ICCIDs, cards and
    wallets as tokens under the operation key, each with an opaque reference and its type,
    signed like a raid package. No identifier leaves; a partner holding the same key finds
    the ones it holds too with ringmap match.

    Example: ringmap share --operation STRIKEBACK --out match-pkg/ --reason "INTERPOL request 14/22"
    """
    kinds = _types(types) or list(TOKEN_TYPES)
    with session.audited("share", reason=reason) as counts:
        result = share_case(session.store(), operation, out, kinds, bloom_rate=bloom_rate)
        counts.update({"operation": result.operation, "tokens": sum(result.by_type.values()),
                       **result.by_type, "signed_by": result.signed_by})
    shown = ", ".join(f"{n:,} {k}" for k, n in result.by_type.items()) or "no identifiers"
    click.echo(f"Wrote the match package of operation {result.operation} to {result.path}: "
               f"{shown}; signed by key {result.signed_by}")
    if result.bloom is not None:
        click.echo(f"Bloom filter: {result.bloom['bits']:,} bits, {result.bloom['hashes']} "
                   f"hashes, false-positive rate {result.bloom['false_positive_rate']:.2e}")
    for why, n in result.skipped.items():
        click.echo(f"Left out: {n:,} {why}")


@click.command("match")
@store_options
@click.argument("package", type=_DIR)
@click.option("--against", type=_DIR, metavar="PKG2",
              help="Match two packages with each other instead of PACKAGE with the case.")
@click.option("--key", metavar="KEY",
              help="The partner's public key file or fingerprint: a package signed by any "
                   "other key is refused.")
@_TYPES
@click.option("--keep", is_flag=True,
              help="Keep each match on the local entity as a MATCHED_BY link to the "
                   "partner's reference (for later queries and maps).")
@_REASON
@format_option()
@pass_session
def match(session: Session, package: Path, against: Path | None, key: str | None,
          types: str | None, keep: bool, reason: str, fmt: Format) -> None:
    """The identifiers a partner's match package shares with the case (or with --against
    another package): per match the local entity, the partner's reference and the type;
    nothing about what did not match. A changed or re-signed package is refused.

    Example: ringmap match partner-pkg/ --key 3f1c… --reason "INTERPOL request 14/22"
    """
    expected = expected_fingerprint(key) if key is not None else None
    if keep and against is not None:
        raise click.BadParameter("matches of two packages have no local entity to keep them "
                                 "on", param_hint="--keep")
    with session.audited("match", reason=reason) as counts:
        partner = read_partner(package, expected)
        if against is not None:
            matches, note = match_packages(partner, read_partner(against))
        else:
            matches, note = match_case(session.store(), partner, _types(types))
        counts.update({"operation": partner.operation, "partner": partner.signed_by,
                       "matches": len(matches)})
        if keep:
            counts["kept"] = keep_matches(session.store(), partner, matches)
    _emit(matches, fmt, against is not None)
    if note is not None:
        click.echo(f"Note: {note}", err=True)
    click.echo(f"{len(matches):,} match(es) with the package of operation "
               f"{partner.operation} signed by {partner.signed_by}", err=True)
    if keep:
        click.echo(f"Kept {counts['kept']:,} MATCHED_BY link(s) (none again for a package "
                   "kept before)", err=True)


def _emit(matches: list[Match], fmt: Format, packages: bool) -> None:
    if packages:
        emit([{"type": m.kind, "ref": m.entity, "partner_ref": m.partner_ref}
              for m in matches], fmt, ["type", "ref", "partner_ref"])
    else:
        emit([{"type": m.kind, "entity": m.entity, "label": m.label,
               "partner_ref": m.partner_ref} for m in matches], fmt,
             ["type", "entity", "label", "partner_ref"])


@export_group.command("referral")
@store_options
@click.option("--country", required=True, metavar="CC|all",
              help="The victims' country (ISO code), or all: one referral per country.")
@click.option("--cell", metavar="ID", help="Only what this cell of the latest run reached.")
@click.option("--offender", metavar="KEY",
              help="Only what this offender (a person, account or number) reached.")
@click.option("--out", type=_DIR, required=True,
              help="Package folder to create (with --country all: the folder holding one "
                   "referral-<CC> per country).")
@_victim_options
@pass_session
def export_referral(session: Session, country: str, cell: str | None, offender: str | None,
                    out: Path, reveal: bool, reason: str | None) -> None:
    """Referral packages for partner agencies: per victims' country, the victims located
    there (pseudonymised), the offender accounts that contacted them, the payments from
    there, the evidence references with their gradings, a map and a timeline, signed like a
    raid package (ringmap verify checks it).

    Example: ringmap export referral --country all --out referrals/
    """
    with session.audited("export referral", reason=reason) as counts:
        results = export_referrals(session.store(), country, out, cell=cell,
                                   offender=offender, reveal=reveal, reason=reason)
        counts.update({"referrals": len(results),
                       "victims": {r.country: r.victims for r in results}})
        if results:
            counts["signed_by"] = results[0].signed_by
    for result in results:
        click.echo(f"Wrote the referral for {result.country} ({result.victims} victims) to "
                   f"{result.path}")
    if results:
        click.echo(f"Signed by key {results[0].signed_by}")


COMMANDS: list[click.Command] = [share, match]
