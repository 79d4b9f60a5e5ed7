"""A clinic's billing settings as last set: fee schedules (and the versions in force),
the billing policy, billing profiles, and clients' sliding scales."""
import json

from sqlalchemy import Column, Date, DateTime, Integer, String, Table, Text, and_, delete, \
    insert

from shared.timeutil import parse_date, parse_time

from .base import metadata, projection, upsert

fee_schedules = Table(  # the latest schedule set per clinic
    "fee_schedules", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("prices", Text, nullable=False),  # JSON {code: minor units}, sorted keys
    Column("version", Integer, nullable=False),
    Column("effective_from", Date),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

fee_schedule_versions = Table(  # the versions in force (an undated set replaces all)
    "fee_schedule_versions", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("prices", Text, nullable=False),
    Column("effective_from", Date),
    Column("set_at", DateTime(timezone=True), nullable=False),
)

billing_policies = Table(
    "billing_policies", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("policy", Text, nullable=False),  # JSON of BillingPolicySet's data
    Column("version", Integer, nullable=False),
)

# Rows of other services' clients are keyed by their tenancy too, so a client id
# alone never reaches a row of another organisation or clinic.
billing_profiles = Table(
    "billing_profiles", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("clinician_key", String(64), primary_key=True),  # "" for the clinic itself
    Column("name", String(200), nullable=False),
    Column("npi", String(10), nullable=False),
    Column("tax_id", String(12)),
    Column("address", String(500)),
    Column("phone", String(40)),
)

sliding_scales = Table(
    "sliding_scales", metadata,
    Column("organisation_id", String(64), primary_key=True),
    Column("clinic_id", String(64), primary_key=True),
    Column("client_id", String(36), primary_key=True),
    Column("starts_on", Date, primary_key=True),
    Column("percent", Integer, nullable=False),
)


@projection.on("FeeScheduleSet")
def fee_schedule_set(conn, event):
    data = event.data
    effective_from = parse_date(data["effective_from"]) if data.get("effective_from") else None
    key = dict(organisation_id=event.organisationid, clinic_id=event.clinicid)
    values = dict(currency=data["currency"], prices=json.dumps(data["prices"], sort_keys=True),
                  version=event.sequence, effective_from=effective_from,
                  set_at=parse_time(event.time))
    upsert(conn, fee_schedules, key, values)
    versions = and_(fee_schedule_versions.c.organisation_id == event.organisationid,
                    fee_schedule_versions.c.clinic_id == event.clinicid)
    if effective_from is None:
        conn.execute(delete(fee_schedule_versions).where(versions))
    else:
        conn.execute(delete(fee_schedule_versions).where(
            versions, fee_schedule_versions.c.effective_from == effective_from))
    conn.execute(insert(fee_schedule_versions).values(**key, **values))


@projection.on("BillingPolicySet")
def policy_set(conn, event):
    upsert(conn, billing_policies,
           dict(organisation_id=event.organisationid, clinic_id=event.clinicid),
           dict(policy=json.dumps(event.data, sort_keys=True), version=event.sequence))


@projection.on("SlidingScaleSet")
def sliding_scale_set(conn, event):
    data = event.data
    upsert(conn, sliding_scales,
           dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
                client_id=data["client_id"], starts_on=parse_date(data["starts_on"])),
           dict(percent=data["percent"]))


@projection.on("BillingProfileSet")
def profile_set(conn, event):
    data = event.data
    upsert(conn, billing_profiles,
           dict(organisation_id=event.organisationid, clinic_id=event.clinicid,
                clinician_key=data["clinician_id"] or ""),
           dict(name=data["name"], npi=data["npi"], tax_id=data["tax_id"],
                address=data["address"], phone=data.get("phone")))
