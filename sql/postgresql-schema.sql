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

COMMIT;

