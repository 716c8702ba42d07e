BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001

CREATE TABLE customers (
    id SERIAL NOT NULL, 
    reseller INTEGER NOT NULL, 
    impersonate INTEGER NOT NULL, 
    reseller_active BOOLEAN NOT NULL, 
    company_code VARCHAR(64) NOT NULL, 
    balance FLOAT NOT NULL, 
    credit FLOAT NOT NULL, 
    username VARCHAR(128) NOT NULL, 
    password_sealed BYTEA NOT NULL, 
    first_name VARCHAR(128) NOT NULL, 
    last_name VARCHAR(128) NOT NULL, 
    organization VARCHAR(255) NOT NULL, 
    vat_number VARCHAR(64) NOT NULL, 
    email VARCHAR(255) NOT NULL, 
    web VARCHAR(255) NOT NULL, 
    tel VARCHAR(64) NOT NULL, 
    fax VARCHAR(64) NOT NULL, 
    mobile VARCHAR(64) NOT NULL, 
    sip VARCHAR(255) NOT NULL, 
    enum VARCHAR(64) NOT NULL, 
    address VARCHAR(255) NOT NULL, 
    postcode VARCHAR(32) NOT NULL, 
    city VARCHAR(128) NOT NULL, 
    state VARCHAR(128) NOT NULL, 
    country VARCHAR(64) NOT NULL, 
    timezone VARCHAR(64) NOT NULL, 
    language VARCHAR(16) NOT NULL, 
    bank_account VARCHAR(255) NOT NULL, 
    billing_address VARCHAR(512) NOT NULL, 
    billing_email VARCHAR(255) NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_customers PRIMARY KEY (id), 
    CONSTRAINT ck_customers_username_not_empty CHECK (username <> ''), 
    CONSTRAINT uq_customers_username UNIQUE (username)
);

CREATE INDEX ix_customers_change_date_id ON customers (change_date, id);

CREATE INDEX ix_customers_reseller_change_date ON customers (reseller, change_date);

CREATE TABLE customer_properties (
    customer_id INTEGER NOT NULL, 
    name VARCHAR(128) NOT NULL, 
    value VARCHAR(1024) NOT NULL, 
    category VARCHAR(64) NOT NULL, 
    permission VARCHAR(16) NOT NULL, 
    CONSTRAINT pk_customer_properties PRIMARY KEY (customer_id, name), 
    CONSTRAINT fk_customer_properties_customer_id_customers FOREIGN KEY(customer_id) REFERENCES customers (id) ON DELETE CASCADE
);

INSERT INTO alembic_version (version_num) VALUES ('0001') RETURNING alembic_version.version_num;

-- Running upgrade 0001 -> 0002

CREATE TABLE audit_log (
    id SERIAL NOT NULL, 
    at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    login VARCHAR(128) NOT NULL, 
    admin_login BOOLEAN NOT NULL, 
    acting_as INTEGER, 
    action VARCHAR(16) NOT NULL, 
    kind VARCHAR(32) NOT NULL, 
    record_key VARCHAR(255) NOT NULL, 
    changes JSON NOT NULL, 
    CONSTRAINT pk_audit_log PRIMARY KEY (id)
);

CREATE INDEX ix_audit_log_at ON audit_log (at);

CREATE INDEX ix_audit_log_kind_record_key ON audit_log (kind, record_key);

CREATE TABLE credit_usage (
    scope VARCHAR(16) NOT NULL, 
    holder INTEGER NOT NULL, 
    credit VARCHAR(32) NOT NULL, 
    used INTEGER NOT NULL, 
    CONSTRAINT pk_credit_usage PRIMARY KEY (scope, holder, credit), 
    CONSTRAINT ck_credit_usage_used_not_negative CHECK (used >= 0)
);

CREATE TABLE sip_domains (
    id SERIAL NOT NULL, 
    domain VARCHAR(255) NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    certificate TEXT NOT NULL, 
    private_key_sealed BYTEA NOT NULL, 
    match_ip_address VARCHAR(255) NOT NULL, 
    match_sip_domain VARCHAR(255) NOT NULL, 
    verify_cert BOOLEAN NOT NULL, 
    require_cert BOOLEAN NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_sip_domains PRIMARY KEY (id), 
    CONSTRAINT uq_sip_domains_domain UNIQUE (domain)
);

CREATE INDEX ix_sip_domains_change_date ON sip_domains (change_date);

CREATE INDEX ix_sip_domains_customer ON sip_domains (customer);

CREATE INDEX ix_sip_domains_reseller ON sip_domains (reseller);

CREATE TABLE sip_accounts (
    id SERIAL NOT NULL, 
    username VARCHAR(64) NOT NULL, 
    domain VARCHAR(255) NOT NULL, 
    password_sealed BYTEA NOT NULL, 
    first_name VARCHAR(128) NOT NULL, 
    last_name VARCHAR(128) NOT NULL, 
    email VARCHAR(255) NOT NULL, 
    rpid VARCHAR(64) NOT NULL, 
    timezone VARCHAR(64) NOT NULL, 
    owner INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    prepaid BOOLEAN NOT NULL, 
    quota INTEGER NOT NULL, 
    call_limit INTEGER NOT NULL, 
    timeout INTEGER NOT NULL, 
    answer_timeout INTEGER NOT NULL, 
    quickdial_prefix VARCHAR(32) NOT NULL, 
    region VARCHAR(64) NOT NULL, 
    acl JSON NOT NULL, 
    properties JSON NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_sip_accounts PRIMARY KEY (id), 
    CONSTRAINT fk_sip_accounts_domain_sip_domains FOREIGN KEY(domain) REFERENCES sip_domains (domain) ON DELETE RESTRICT, 
    CONSTRAINT uq_sip_accounts_domain_username UNIQUE (domain, username)
);

CREATE INDEX ix_sip_accounts_customer ON sip_accounts (customer);

CREATE INDEX ix_sip_accounts_domain_change_date ON sip_accounts (domain, change_date);

CREATE INDEX ix_sip_accounts_owner ON sip_accounts (owner);

CREATE INDEX ix_sip_accounts_reseller ON sip_accounts (reseller);

CREATE TABLE sip_aliases (
    id SERIAL NOT NULL, 
    username VARCHAR(64) NOT NULL, 
    domain VARCHAR(255) NOT NULL, 
    target_username VARCHAR(64) NOT NULL, 
    target_domain VARCHAR(255) NOT NULL, 
    owner INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_sip_aliases PRIMARY KEY (id), 
    CONSTRAINT fk_sip_aliases_domain_sip_domains FOREIGN KEY(domain) REFERENCES sip_domains (domain) ON DELETE RESTRICT, 
    CONSTRAINT uq_sip_aliases_domain_username UNIQUE (domain, username)
);

CREATE INDEX ix_sip_aliases_customer ON sip_aliases (customer);

CREATE INDEX ix_sip_aliases_owner ON sip_aliases (owner);

CREATE INDEX ix_sip_aliases_reseller ON sip_aliases (reseller);

CREATE TABLE sip_account_groups (
    account_id INTEGER NOT NULL, 
    name VARCHAR(64) NOT NULL, 
    CONSTRAINT pk_sip_account_groups PRIMARY KEY (account_id, name), 
    CONSTRAINT fk_sip_account_groups_account_id_sip_accounts FOREIGN KEY(account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE
);

CREATE INDEX ix_sip_account_groups_name ON sip_account_groups (name, account_id);

UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';

-- Running upgrade 0002 -> 0003

CREATE TABLE dns_zones (
    id SERIAL NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    ttl INTEGER NOT NULL, 
    minimum INTEGER NOT NULL, 
    retry INTEGER NOT NULL, 
    expire INTEGER NOT NULL, 
    serial INTEGER NOT NULL, 
    email VARCHAR(255) NOT NULL, 
    info VARCHAR(255) NOT NULL, 
    nameservers JSON NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_dns_zones PRIMARY KEY (id), 
    CONSTRAINT uq_dns_zones_name UNIQUE (name)
);

CREATE INDEX ix_dns_zones_change_date ON dns_zones (change_date);

CREATE INDEX ix_dns_zones_customer ON dns_zones (customer);

CREATE INDEX ix_dns_zones_reseller ON dns_zones (reseller);

CREATE TABLE enum_ranges (
    id SERIAL NOT NULL, 
    prefix VARCHAR(32) NOT NULL, 
    tld VARCHAR(255) NOT NULL, 
    ttl INTEGER NOT NULL, 
    min_digits INTEGER NOT NULL, 
    max_digits INTEGER NOT NULL, 
    size INTEGER NOT NULL, 
    nameservers JSON NOT NULL, 
    serial INTEGER NOT NULL, 
    info VARCHAR(255) NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_enum_ranges PRIMARY KEY (id), 
    CONSTRAINT uq_enum_ranges_tld_prefix UNIQUE (tld, prefix)
);

CREATE INDEX ix_enum_ranges_change_date ON enum_ranges (change_date);

CREATE INDEX ix_enum_ranges_customer ON enum_ranges (customer);

CREATE INDEX ix_enum_ranges_reseller ON enum_ranges (reseller);

CREATE TABLE dns_records (
    id SERIAL NOT NULL, 
    zone_id INTEGER NOT NULL, 
    zone VARCHAR(255) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    type VARCHAR(16) NOT NULL, 
    value VARCHAR(1024) NOT NULL, 
    priority INTEGER NOT NULL, 
    ttl INTEGER NOT NULL, 
    fancy BOOLEAN NOT NULL, 
    owner INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_dns_records PRIMARY KEY (id), 
    CONSTRAINT fk_dns_records_zone_id_dns_zones FOREIGN KEY(zone_id) REFERENCES dns_zones (id) ON DELETE RESTRICT
);

CREATE INDEX ix_dns_records_customer ON dns_records (customer);

CREATE INDEX ix_dns_records_owner ON dns_records (owner);

CREATE INDEX ix_dns_records_reseller ON dns_records (reseller);

CREATE INDEX ix_dns_records_zone_id_name ON dns_records (zone_id, name);

CREATE TABLE enum_numbers (
    id SERIAL NOT NULL, 
    number VARCHAR(32) NOT NULL, 
    tld VARCHAR(255) NOT NULL, 
    range_id INTEGER NOT NULL, 
    owner INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    info VARCHAR(255) NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_enum_numbers PRIMARY KEY (id), 
    CONSTRAINT fk_enum_numbers_range_id_enum_ranges FOREIGN KEY(range_id) REFERENCES enum_ranges (id) ON DELETE RESTRICT, 
    CONSTRAINT uq_enum_numbers_tld_number UNIQUE (tld, number)
);

CREATE INDEX ix_enum_numbers_customer ON enum_numbers (customer);

CREATE INDEX ix_enum_numbers_owner ON enum_numbers (owner);

CREATE INDEX ix_enum_numbers_range_id ON enum_numbers (range_id);

CREATE INDEX ix_enum_numbers_reseller ON enum_numbers (reseller);

CREATE TABLE enum_mappings (
    id SERIAL NOT NULL, 
    number_id INTEGER NOT NULL, 
    type VARCHAR(32) NOT NULL, 
    mapto VARCHAR(512) NOT NULL, 
    ttl INTEGER NOT NULL, 
    priority INTEGER NOT NULL, 
    CONSTRAINT pk_enum_mappings PRIMARY KEY (id), 
    CONSTRAINT fk_enum_mappings_number_id_enum_numbers FOREIGN KEY(number_id) REFERENCES enum_numbers (id) ON DELETE CASCADE
);

CREATE INDEX ix_enum_mappings_number_id ON enum_mappings (number_id);

CREATE INDEX ix_enum_mappings_type ON enum_mappings (type);

UPDATE alembic_version SET version_num='0003' WHERE alembic_version.version_num = '0002';

-- Running upgrade 0003 -> 0004

CREATE TABLE dsl_packages (
    id SERIAL NOT NULL, 
    name VARCHAR(128) NOT NULL, 
    vendor_package_id VARCHAR(64) NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_dsl_packages PRIMARY KEY (id), 
    CONSTRAINT uq_dsl_packages_name UNIQUE (name), 
    CONSTRAINT uq_dsl_packages_vendor_package_id UNIQUE (vendor_package_id)
);

CREATE TABLE dsl_qualifications (
    id SERIAL NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    address JSON NOT NULL, 
    phone_number VARCHAR(32) NOT NULL, 
    location_type VARCHAR(1) NOT NULL, 
    vendor_qual_id VARCHAR(64) NOT NULL, 
    status VARCHAR(1) NOT NULL, 
    offered JSON NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_dsl_qualifications PRIMARY KEY (id)
);

CREATE INDEX ix_dsl_qualifications_customer ON dsl_qualifications (customer);

CREATE INDEX ix_dsl_qualifications_reseller ON dsl_qualifications (reseller);

CREATE TABLE jobs (
    id SERIAL NOT NULL, 
    kind VARCHAR(64) NOT NULL, 
    record_kind VARCHAR(32) NOT NULL, 
    record_id INTEGER NOT NULL, 
    state VARCHAR(16) NOT NULL, 
    step VARCHAR(64) NOT NULL, 
    data JSON NOT NULL, 
    attempts INTEGER NOT NULL, 
    max_attempts INTEGER NOT NULL, 
    next_run_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    locked_by VARCHAR(128) NOT NULL, 
    locked_until TIMESTAMP WITHOUT TIME ZONE, 
    last_error TEXT NOT NULL, 
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_jobs PRIMARY KEY (id)
);

CREATE INDEX ix_jobs_record ON jobs (record_kind, record_id);

CREATE INDEX ix_jobs_state_next_run_at ON jobs (state, next_run_at);

CREATE TABLE dsl_services (
    id SERIAL NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    owner INTEGER NOT NULL, 
    package_id INTEGER NOT NULL, 
    qualification_id INTEGER, 
    state VARCHAR(16) NOT NULL, 
    failure TEXT NOT NULL, 
    phone_number VARCHAR(32) NOT NULL, 
    loop_type VARCHAR(8) NOT NULL, 
    first_name VARCHAR(128) NOT NULL, 
    last_name VARCHAR(128) NOT NULL, 
    company_name VARCHAR(255) NOT NULL, 
    contact_phone VARCHAR(32) NOT NULL, 
    isp_change BOOLEAN NOT NULL, 
    isp_previous VARCHAR(128) NOT NULL, 
    current_provider VARCHAR(128) NOT NULL, 
    desired_due_date DATE, 
    due_date DATE, 
    expire_date DATE, 
    order_type VARCHAR(8) NOT NULL, 
    vendor_order_id VARCHAR(64) NOT NULL, 
    vendor_order_status VARCHAR(16) NOT NULL, 
    vendor_username VARCHAR(128) NOT NULL, 
    password_sealed BYTEA NOT NULL, 
    static_ips JSON NOT NULL, 
    monitored BOOLEAN NOT NULL, 
    pushed TIMESTAMP WITHOUT TIME ZONE, 
    last_pull TIMESTAMP WITHOUT TIME ZONE, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_dsl_services PRIMARY KEY (id), 
    CONSTRAINT fk_dsl_services_package_id_dsl_packages FOREIGN KEY(package_id) REFERENCES dsl_packages (id) ON DELETE RESTRICT, 
    CONSTRAINT fk_dsl_services_qualification_id_dsl_qualifications FOREIGN KEY(qualification_id) REFERENCES dsl_qualifications (id) ON DELETE SET NULL
);

CREATE INDEX ix_dsl_services_customer ON dsl_services (customer);

CREATE INDEX ix_dsl_services_monitored_last_pull ON dsl_services (monitored, last_pull);

CREATE INDEX ix_dsl_services_owner ON dsl_services (owner);

CREATE INDEX ix_dsl_services_reseller ON dsl_services (reseller);

CREATE TABLE job_attempts (
    id SERIAL NOT NULL, 
    job_id INTEGER NOT NULL, 
    worker VARCHAR(128) NOT NULL, 
    started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    finished_at TIMESTAMP WITHOUT TIME ZONE, 
    outcome VARCHAR(16) NOT NULL, 
    step VARCHAR(64) NOT NULL, 
    error TEXT NOT NULL, 
    CONSTRAINT pk_job_attempts PRIMARY KEY (id), 
    CONSTRAINT fk_job_attempts_job_id_jobs FOREIGN KEY(job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE INDEX ix_job_attempts_job_id ON job_attempts (job_id);

CREATE TABLE dsl_notes (
    id SERIAL NOT NULL, 
    service_id INTEGER NOT NULL, 
    date VARCHAR(32) NOT NULL, 
    text TEXT NOT NULL, 
    author VARCHAR(16) NOT NULL, 
    high_priority BOOLEAN NOT NULL, 
    CONSTRAINT pk_dsl_notes PRIMARY KEY (id), 
    CONSTRAINT fk_dsl_notes_service_id_dsl_services FOREIGN KEY(service_id) REFERENCES dsl_services (id) ON DELETE CASCADE
);

CREATE INDEX ix_dsl_notes_service_id ON dsl_notes (service_id);

UPDATE alembic_version SET version_num='0004' WHERE alembic_version.version_num = '0003';

-- Running upgrade 0004 -> 0005

CREATE TABLE reseller_sizes (
    reseller INTEGER NOT NULL, 
    customers INTEGER NOT NULL, 
    CONSTRAINT pk_reseller_sizes PRIMARY KEY (reseller)
);

INSERT INTO reseller_sizes (reseller, customers) SELECT reseller, count(*) FROM customers GROUP BY reseller;

UPDATE alembic_version SET version_num='0005' WHERE alembic_version.version_num = '0004';

-- Running upgrade 0005 -> 0006

CREATE OR REPLACE FUNCTION ngn_refuse(reason text) RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'NG001', MESSAGE = reason; END $$;

UPDATE alembic_version SET version_num='0006' WHERE alembic_version.version_num = '0005';

-- Running upgrade 0006 -> 0007

CREATE OR REPLACE FUNCTION ngn_caller_changed() RETURNS integer LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'NG002', MESSAGE = 'the caller''s account changed since this worker read it'; END $$;

UPDATE alembic_version SET version_num='0007' WHERE alembic_version.version_num = '0006';

-- Running upgrade 0007 -> 0008

DROP INDEX ix_audit_log_at;

CREATE INDEX ix_audit_log_at ON audit_log USING brin (at);

UPDATE alembic_version SET version_num='0008' WHERE alembic_version.version_num = '0007';

-- Running upgrade 0008 -> 0009

DROP FUNCTION IF EXISTS ngn_refuse(text);

DROP FUNCTION IF EXISTS ngn_caller_changed();

UPDATE alembic_version SET version_num='0009' WHERE alembic_version.version_num = '0008';

-- Running upgrade 0009 -> 0010

ALTER TABLE audit_log ALTER COLUMN record_key TYPE VARCHAR(512);

UPDATE alembic_version SET version_num='0010' WHERE alembic_version.version_num = '0009';

-- Running upgrade 0010 -> 0011

CREATE TABLE login_failures (
    key VARCHAR(200) NOT NULL, 
    failures INTEGER NOT NULL, 
    last_failure TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    blocked_until TIMESTAMP WITHOUT TIME ZONE, 
    CONSTRAINT pk_login_failures PRIMARY KEY (key)
);

CREATE INDEX ix_login_failures_last_failure ON login_failures (last_failure);

UPDATE alembic_version SET version_num='0011' WHERE alembic_version.version_num = '0010';

-- Running upgrade 0011 -> 0012

CREATE TABLE server_packages (
    id SERIAL NOT NULL, 
    name VARCHAR(128) NOT NULL, 
    kind VARCHAR(16) NOT NULL, 
    template VARCHAR(128) NOT NULL, 
    os_template VARCHAR(128) NOT NULL, 
    recipe VARCHAR(128) NOT NULL, 
    extra_ipv4 INTEGER NOT NULL, 
    extra_ipv6 INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_server_packages PRIMARY KEY (id), 
    CONSTRAINT ck_server_packages_kind CHECK (kind IN ('dedicated', 'colocation')), 
    CONSTRAINT ck_server_packages_extra_ips CHECK (extra_ipv4 >= 0 AND extra_ipv6 >= 0), 
    CONSTRAINT uq_server_packages_name UNIQUE (name)
);

CREATE TABLE server_services (
    id SERIAL NOT NULL, 
    package_id INTEGER NOT NULL, 
    hostname VARCHAR(255) NOT NULL, 
    state VARCHAR(16) NOT NULL, 
    step VARCHAR(64) NOT NULL, 
    failure TEXT NOT NULL, 
    progress JSON NOT NULL, 
    dcim_server_id VARCHAR(32) NOT NULL, 
    main_ip VARCHAR(64) NOT NULL, 
    ips JSON NOT NULL, 
    panel_username VARCHAR(64) NOT NULL, 
    panel_user_id VARCHAR(32) NOT NULL, 
    panel_password_sealed BYTEA NOT NULL, 
    root_password_sealed BYTEA NOT NULL, 
    welcome JSON NOT NULL, 
    owner INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_server_services PRIMARY KEY (id), 
    CONSTRAINT fk_server_services_package_id_server_packages FOREIGN KEY(package_id) REFERENCES server_packages (id) ON DELETE RESTRICT
);

CREATE INDEX ix_server_services_customer ON server_services (customer);

CREATE INDEX ix_server_services_hostname ON server_services (hostname);

CREATE INDEX ix_server_services_owner ON server_services (owner);

CREATE INDEX ix_server_services_reseller ON server_services (reseller);

CREATE TABLE server_claims (
    dcim_server_id VARCHAR(32) NOT NULL, 
    service_id INTEGER NOT NULL, 
    claimed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_server_claims PRIMARY KEY (dcim_server_id), 
    CONSTRAINT fk_server_claims_service_id_server_services FOREIGN KEY(service_id) REFERENCES server_services (id) ON DELETE CASCADE, 
    CONSTRAINT uq_server_claims_service_id UNIQUE (service_id)
);

UPDATE alembic_version SET version_num='0012' WHERE alembic_version.version_num = '0011';

-- Running upgrade 0012 -> 0013

CREATE TABLE sync_runs (
    id SERIAL NOT NULL, 
    sync_name VARCHAR(64) NOT NULL, 
    status VARCHAR(16) NOT NULL, 
    dry_run BOOLEAN NOT NULL, 
    started_by VARCHAR(128) NOT NULL, 
    queued_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    started_at TIMESTAMP WITHOUT TIME ZONE, 
    finished_at TIMESTAMP WITHOUT TIME ZONE, 
    counts JSON NOT NULL, 
    writes INTEGER NOT NULL, 
    error_count INTEGER NOT NULL, 
    message TEXT NOT NULL, 
    CONSTRAINT pk_sync_runs PRIMARY KEY (id), 
    CONSTRAINT ck_sync_runs_status CHECK (status IN ('queued', 'running', 'ok', 'errors', 'failed', 'interrupted', 'skipped'))
);

CREATE INDEX ix_sync_runs_sync_name_id ON sync_runs (sync_name, id);

CREATE TABLE sync_run_errors (
    id SERIAL NOT NULL, 
    run_id INTEGER NOT NULL, 
    object_kind VARCHAR(32) NOT NULL, 
    object_key VARCHAR(255) NOT NULL, 
    action VARCHAR(16) NOT NULL, 
    message TEXT NOT NULL, 
    at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_sync_run_errors PRIMARY KEY (id), 
    CONSTRAINT fk_sync_run_errors_run_id_sync_runs FOREIGN KEY(run_id) REFERENCES sync_runs (id) ON DELETE CASCADE
);

CREATE INDEX ix_sync_run_errors_run_id ON sync_run_errors (run_id);

UPDATE alembic_version SET version_num='0013' WHERE alembic_version.version_num = '0012';

-- Running upgrade 0013 -> 0014

CREATE TABLE pstn_carriers (
    id SERIAL NOT NULL, 
    name VARCHAR(128) NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_pstn_carriers PRIMARY KEY (id), 
    CONSTRAINT uq_pstn_carriers_reseller_name UNIQUE (reseller, name)
);

CREATE INDEX ix_pstn_carriers_change_date ON pstn_carriers (change_date);

CREATE INDEX ix_pstn_carriers_customer ON pstn_carriers (customer);

CREATE TABLE trusted_peers (
    id SERIAL NOT NULL, 
    ip VARCHAR(255) NOT NULL, 
    description VARCHAR(255) NOT NULL, 
    call_limit INTEGER NOT NULL, 
    blocked INTEGER NOT NULL, 
    prepaid BOOLEAN NOT NULL, 
    enum_lookup BOOLEAN NOT NULL, 
    transit BOOLEAN NOT NULL, 
    msteams BOOLEAN NOT NULL, 
    tenant VARCHAR(255) NOT NULL, 
    carrier_name VARCHAR(128) NOT NULL, 
    originator VARCHAR(128) NOT NULL, 
    prefix VARCHAR(64) NOT NULL, 
    strip INTEGER NOT NULL, 
    auth_token VARCHAR(255) NOT NULL, 
    tags VARCHAR(255) NOT NULL, 
    billing_id VARCHAR(128) NOT NULL, 
    owner INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_trusted_peers PRIMARY KEY (id), 
    CONSTRAINT ck_trusted_peers_counts CHECK (strip >= 0 AND call_limit >= 0), 
    CONSTRAINT uq_trusted_peers_ip UNIQUE (ip)
);

CREATE INDEX ix_trusted_peers_customer ON trusted_peers (customer);

CREATE INDEX ix_trusted_peers_owner ON trusted_peers (owner);

CREATE INDEX ix_trusted_peers_reseller ON trusted_peers (reseller);

CREATE TABLE pstn_gateways (
    id SERIAL NOT NULL, 
    carrier_id INTEGER NOT NULL, 
    name VARCHAR(128) NOT NULL, 
    transport VARCHAR(8) NOT NULL, 
    ip VARCHAR(255) NOT NULL, 
    port INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_pstn_gateways PRIMARY KEY (id), 
    CONSTRAINT ck_pstn_gateways_transport CHECK (transport IN ('udp', 'tcp', 'tls')), 
    CONSTRAINT ck_pstn_gateways_port CHECK (port BETWEEN 1 AND 65535), 
    CONSTRAINT fk_pstn_gateways_carrier_id_pstn_carriers FOREIGN KEY(carrier_id) REFERENCES pstn_carriers (id) ON DELETE RESTRICT, 
    CONSTRAINT uq_pstn_gateways_carrier_id_name UNIQUE (carrier_id, name)
);

CREATE INDEX ix_pstn_gateways_change_date ON pstn_gateways (change_date);

CREATE INDEX ix_pstn_gateways_reseller ON pstn_gateways (reseller);

CREATE TABLE pstn_routes (
    id SERIAL NOT NULL, 
    carrier_id INTEGER NOT NULL, 
    prefix VARCHAR(64) NOT NULL, 
    originator VARCHAR(128) NOT NULL, 
    priority INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_pstn_routes PRIMARY KEY (id), 
    CONSTRAINT fk_pstn_routes_carrier_id_pstn_carriers FOREIGN KEY(carrier_id) REFERENCES pstn_carriers (id) ON DELETE RESTRICT
);

CREATE INDEX ix_pstn_routes_carrier_id ON pstn_routes (carrier_id);

CREATE INDEX ix_pstn_routes_reseller_prefix ON pstn_routes (reseller, prefix);

CREATE TABLE pstn_gateway_rules (
    id SERIAL NOT NULL, 
    gateway_id INTEGER NOT NULL, 
    carrier_id INTEGER NOT NULL, 
    prefix VARCHAR(64) NOT NULL, 
    strip INTEGER NOT NULL, 
    prepend VARCHAR(64) NOT NULL, 
    min_length INTEGER NOT NULL, 
    max_length INTEGER NOT NULL, 
    customer INTEGER NOT NULL, 
    reseller INTEGER NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_pstn_gateway_rules PRIMARY KEY (id), 
    CONSTRAINT ck_pstn_gateway_rules_counts CHECK (strip >= 0 AND min_length >= 0 AND max_length >= 0), 
    CONSTRAINT fk_pstn_gateway_rules_gateway_id_pstn_gateways FOREIGN KEY(gateway_id) REFERENCES pstn_gateways (id) ON DELETE RESTRICT
);

CREATE INDEX ix_pstn_gateway_rules_carrier_id ON pstn_gateway_rules (carrier_id);

CREATE INDEX ix_pstn_gateway_rules_gateway_id ON pstn_gateway_rules (gateway_id);

CREATE INDEX ix_pstn_gateway_rules_reseller ON pstn_gateway_rules (reseller);

UPDATE alembic_version SET version_num='0014' WHERE alembic_version.version_num = '0013';

-- Running upgrade 0014 -> 0015

CREATE TABLE sip_account_settings (
    account_id INTEGER NOT NULL, 
    diversions JSON NOT NULL, 
    accept_rules JSON NOT NULL, 
    reject_members JSON NOT NULL, 
    barring_prefixes JSON NOT NULL, 
    CONSTRAINT pk_sip_account_settings PRIMARY KEY (account_id), 
    CONSTRAINT fk_sip_account_settings_account_id_sip_accounts FOREIGN KEY(account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE
);

CREATE TABLE sip_phonebook_entries (
    id SERIAL NOT NULL, 
    account_id INTEGER NOT NULL, 
    uri VARCHAR(255) NOT NULL, 
    name VARCHAR(128) NOT NULL, 
    group_name VARCHAR(64) NOT NULL, 
    CONSTRAINT pk_sip_phonebook_entries PRIMARY KEY (id), 
    CONSTRAINT fk_sip_phonebook_entries_account_id_sip_accounts FOREIGN KEY(account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE, 
    CONSTRAINT uq_sip_phonebook_entries_account_id_uri UNIQUE (account_id, uri)
);

UPDATE alembic_version SET version_num='0015' WHERE alembic_version.version_num = '0014';

-- Running upgrade 0015 -> 0016

CREATE TABLE sync_cursors (
    name VARCHAR(128) NOT NULL, 
    position VARCHAR(64), 
    seen JSON NOT NULL, 
    pending JSON NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_sync_cursors PRIMARY KEY (name)
);

CREATE TABLE ozmap_box_links (
    id SERIAL NOT NULL, 
    ozmap_box_id VARCHAR(64) NOT NULL, 
    ozmap_splitter_id VARCHAR(64), 
    source VARCHAR(16) NOT NULL, 
    ixc_caixa_id VARCHAR(20) NOT NULL, 
    ozmap_project_id VARCHAR(64) NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    last_hash VARCHAR(64) NOT NULL, 
    removed BOOLEAN NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_ozmap_box_links PRIMARY KEY (id), 
    CONSTRAINT ck_ozmap_box_links_source CHECK (source IN ('box', 'splitter', 'building'))
);

CREATE UNIQUE INDEX uq_ozmap_box_links_caixa ON ozmap_box_links (ixc_caixa_id);

CREATE UNIQUE INDEX uq_ozmap_box_links_box_splitter ON ozmap_box_links (ozmap_box_id, ozmap_splitter_id);

CREATE UNIQUE INDEX uq_ozmap_box_links_whole_box ON ozmap_box_links (ozmap_box_id) WHERE ozmap_splitter_id IS NULL;

CREATE TABLE ozmap_client_links (
    id SERIAL NOT NULL, 
    ixc_login_id VARCHAR(20) NOT NULL, 
    login VARCHAR(255) NOT NULL, 
    ozmap_property_id VARCHAR(64), 
    ozmap_client_id VARCHAR(64), 
    to_ixc_hash VARCHAR(64) NOT NULL, 
    to_ozmap_hash VARCHAR(64) NOT NULL, 
    state JSON NOT NULL, 
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_ozmap_client_links PRIMARY KEY (id)
);

CREATE UNIQUE INDEX uq_ozmap_client_links_login ON ozmap_client_links (ixc_login_id);

CREATE INDEX ix_ozmap_client_links_property ON ozmap_client_links (ozmap_property_id);

CREATE INDEX ix_ozmap_client_links_client ON ozmap_client_links (ozmap_client_id);

CREATE INDEX ix_ozmap_client_links_code ON ozmap_client_links (login);

UPDATE alembic_version SET version_num='0016' WHERE alembic_version.version_num = '0015';

-- Running upgrade 0016 -> 0017

CREATE TABLE prepaid_vouchers (
    id SERIAL NOT NULL, 
    reseller INTEGER NOT NULL, 
    number_digest BYTEA NOT NULL, 
    value_units BIGINT NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    created_by VARCHAR(128) NOT NULL, 
    redeem_date TIMESTAMP WITHOUT TIME ZONE, 
    redeemed_by VARCHAR(320), 
    CONSTRAINT pk_prepaid_vouchers PRIMARY KEY (id), 
    CONSTRAINT ck_prepaid_vouchers_value_positive CHECK (value_units > 0)
);

CREATE INDEX ix_prepaid_vouchers_reseller ON prepaid_vouchers (reseller);

CREATE TABLE prepaid_balances (
    account_id INTEGER NOT NULL, 
    balance_units BIGINT NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_prepaid_balances PRIMARY KEY (account_id), 
    CONSTRAINT ck_prepaid_balances_balance_not_negative CHECK (balance_units >= 0), 
    CONSTRAINT fk_prepaid_balances_account_id_sip_accounts FOREIGN KEY(account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE
);

CREATE TABLE prepaid_history (
    id SERIAL NOT NULL, 
    account_id INTEGER NOT NULL, 
    date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    action VARCHAR(32) NOT NULL, 
    description VARCHAR(255) NOT NULL, 
    value_units BIGINT NOT NULL, 
    balance_units BIGINT NOT NULL, 
    voucher_id INTEGER, 
    login VARCHAR(128) NOT NULL, 
    acting_as INTEGER, 
    CONSTRAINT pk_prepaid_history PRIMARY KEY (id), 
    CONSTRAINT fk_prepaid_history_account_id_sip_accounts FOREIGN KEY(account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE
);

CREATE INDEX ix_prepaid_history_account_id ON prepaid_history (account_id, id);

CREATE TABLE rating_profiles (
    id SERIAL NOT NULL, 
    entity VARCHAR(330) NOT NULL, 
    sip_account_id INTEGER, 
    sip_domain_id INTEGER, 
    customer_id INTEGER, 
    profile_weekday VARCHAR(64) NOT NULL, 
    profile_weekday_alt VARCHAR(64) NOT NULL, 
    profile_weekend VARCHAR(64) NOT NULL, 
    profile_weekend_alt VARCHAR(64) NOT NULL, 
    timezone VARCHAR(64) NOT NULL, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_rating_profiles PRIMARY KEY (id), 
    CONSTRAINT ck_rating_profiles_one_entity CHECK ((CASE WHEN sip_account_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN sip_domain_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN customer_id IS NULL THEN 0 ELSE 1 END) = 1), 
    CONSTRAINT fk_rating_profiles_customer_id_customers FOREIGN KEY(customer_id) REFERENCES customers (id) ON DELETE CASCADE, 
    CONSTRAINT fk_rating_profiles_sip_account_id_sip_accounts FOREIGN KEY(sip_account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE, 
    CONSTRAINT fk_rating_profiles_sip_domain_id_sip_domains FOREIGN KEY(sip_domain_id) REFERENCES sip_domains (id) ON DELETE CASCADE, 
    CONSTRAINT uq_rating_profiles_entity UNIQUE (entity)
);

CREATE INDEX ix_rating_profiles_customer_id ON rating_profiles (customer_id);

CREATE INDEX ix_rating_profiles_sip_account_id ON rating_profiles (sip_account_id);

CREATE INDEX ix_rating_profiles_sip_domain_id ON rating_profiles (sip_domain_id);

CREATE TABLE voicemail_accounts (
    id SERIAL NOT NULL, 
    account_id INTEGER NOT NULL, 
    password_sealed BYTEA NOT NULL, 
    name VARCHAR(255) NOT NULL, 
    email VARCHAR(255) NOT NULL, 
    info VARCHAR(255) NOT NULL, 
    delete_after_email BOOLEAN NOT NULL, 
    announcement BYTEA NOT NULL, 
    announcement_date TIMESTAMP WITHOUT TIME ZONE, 
    create_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    change_date TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
    CONSTRAINT pk_voicemail_accounts PRIMARY KEY (id), 
    CONSTRAINT fk_voicemail_accounts_account_id_sip_accounts FOREIGN KEY(account_id) REFERENCES sip_accounts (id) ON DELETE CASCADE, 
    CONSTRAINT uq_voicemail_accounts_account_id UNIQUE (account_id)
);

UPDATE alembic_version SET version_num='0017' WHERE alembic_version.version_num = '0016';

COMMIT;

