-- privacyIDEA 3.14 test schema for MySQL 8, verbatim from schema reference §10.3.
CREATE TABLE `admin` (
  username VARCHAR(120) NOT NULL,
  password VARCHAR(255),
  email VARCHAR(255),
  PRIMARY KEY (username)
);

CREATE TABLE config (
  `Key` VARCHAR(255) NOT NULL,
  `Value` VARCHAR(2000),
  `Type` VARCHAR(2000),
  `Description` VARCHAR(2000),
  PRIMARY KEY (`Key`)
);

CREATE TABLE pidea_audit (
  id BIGINT NOT NULL AUTO_INCREMENT,
  date DATETIME(6),
  startdate DATETIME(6),
  duration DATETIME(6),
  signature VARCHAR(1100),
  action VARCHAR(200),
  success INTEGER,
  authentication VARCHAR(12),
  serial VARCHAR(200),
  token_type VARCHAR(12),
  container_serial VARCHAR(40),
  container_type VARCHAR(100),
  user VARCHAR(100),
  realm VARCHAR(255),
  resolver VARCHAR(255),
  administrator VARCHAR(100),
  action_detail VARCHAR(500),
  info VARCHAR(500),
  privacyidea_server VARCHAR(255),
  client VARCHAR(50),
  user_agent VARCHAR(50),
  user_agent_version VARCHAR(20),
  loglevel VARCHAR(12),
  clearance_level VARCHAR(12),
  thread_id VARCHAR(20),
  policies VARCHAR(255),
  PRIMARY KEY (id)
);

CREATE INDEX ix_pidea_audit_date ON pidea_audit (date);

CREATE INDEX ix_pidea_audit_user ON pidea_audit (user);

CREATE TABLE challenge (
  id INTEGER NOT NULL AUTO_INCREMENT,
  transaction_id VARCHAR(64) NOT NULL,
  data TEXT,
  challenge TEXT,
  `session` VARCHAR(512),
  serial VARCHAR(40),
  timestamp DATETIME(6),
  expiration DATETIME(6),
  received_count INTEGER,
  otp_valid BOOL,
  PRIMARY KEY (id)
);

CREATE INDEX ix_challenge_expiration ON challenge (expiration);

CREATE INDEX ix_challenge_serial ON challenge (serial);

CREATE INDEX ix_challenge_timestamp ON challenge (timestamp);

CREATE INDEX ix_challenge_transaction_id ON challenge (transaction_id);

CREATE TABLE policy (
  id INTEGER NOT NULL AUTO_INCREMENT,
  active BOOL,
  check_all_resolvers BOOL,
  name VARCHAR(64) NOT NULL,
  user_case_insensitive BOOL,
  scope VARCHAR(32) NOT NULL,
  action TEXT,
  realm VARCHAR(256),
  adminrealm VARCHAR(256),
  adminuser VARCHAR(256),
  resolver VARCHAR(256),
  pinode VARCHAR(256),
  user VARCHAR(256),
  client VARCHAR(256),
  time VARCHAR(64),
  user_agents VARCHAR(256),
  priority INTEGER NOT NULL,
  PRIMARY KEY (id),
  UNIQUE (name)
);

CREATE TABLE policycondition (
  id INTEGER NOT NULL AUTO_INCREMENT,
  policy_id INTEGER NOT NULL,
  section VARCHAR(255) NOT NULL,
  `Key` VARCHAR(255) NOT NULL,
  comparator VARCHAR(255) NOT NULL,
  `Value` VARCHAR(2000) NOT NULL,
  active BOOL NOT NULL,
  handle_missing_data VARCHAR(255),
  PRIMARY KEY (id),
  FOREIGN KEY(policy_id) REFERENCES policy (id)
);

CREATE TABLE description (
  id INTEGER NOT NULL AUTO_INCREMENT,
  object_id INTEGER NOT NULL,
  object_type VARCHAR(64) NOT NULL,
  last_update DATETIME(6),
  description TEXT,
  PRIMARY KEY (id),
  FOREIGN KEY(object_id) REFERENCES policy (id)
);

CREATE TABLE eventhandler (
  id INTEGER NOT NULL AUTO_INCREMENT,
  name VARCHAR(64),
  active BOOL,
  ordering INTEGER NOT NULL,
  position VARCHAR(10),
  abort_on_error BOOL,
  event VARCHAR(255) NOT NULL,
  handlermodule VARCHAR(255) NOT NULL,
  `condition` VARCHAR(1024),
  action VARCHAR(1024),
  PRIMARY KEY (id)
);

CREATE TABLE eventhandleroption (
  id INTEGER NOT NULL AUTO_INCREMENT,
  eventhandler_id INTEGER,
  `Key` VARCHAR(255) NOT NULL,
  `Value` VARCHAR(2000),
  `Type` VARCHAR(2000),
  `Description` VARCHAR(2000),
  PRIMARY KEY (id),
  CONSTRAINT ehoix_1 UNIQUE (eventhandler_id, `Key`),
  FOREIGN KEY(eventhandler_id) REFERENCES eventhandler (id)
);

CREATE TABLE eventhandlercondition (
  id INTEGER NOT NULL AUTO_INCREMENT,
  eventhandler_id INTEGER,
  `Key` VARCHAR(255) NOT NULL,
  `Value` VARCHAR(2000),
  comparator VARCHAR(255),
  PRIMARY KEY (id),
  CONSTRAINT ehcix_1 UNIQUE (eventhandler_id, `Key`),
  FOREIGN KEY(eventhandler_id) REFERENCES eventhandler (id)
);

CREATE TABLE periodictask (
  id INTEGER NOT NULL AUTO_INCREMENT,
  name VARCHAR(64) NOT NULL,
  active BOOL NOT NULL,
  retry_if_failed BOOL NOT NULL,
  `interval` VARCHAR(256) NOT NULL,
  nodes VARCHAR(256) NOT NULL,
  taskmodule VARCHAR(256) NOT NULL,
  ordering INTEGER NOT NULL,
  last_update DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE (name)
);

CREATE TABLE periodictaskoption (
  id INTEGER NOT NULL AUTO_INCREMENT,
  periodictask_id INTEGER,
  `key` VARCHAR(255) NOT NULL,
  value VARCHAR(2000),
  PRIMARY KEY (id),
  CONSTRAINT ptoix_1 UNIQUE (periodictask_id, `key`),
  FOREIGN KEY(periodictask_id) REFERENCES periodictask (id)
);

CREATE TABLE periodictasklastrun (
  id INTEGER NOT NULL AUTO_INCREMENT,
  periodictask_id INTEGER,
  node VARCHAR(255) NOT NULL,
  timestamp DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT ptlrix_1 UNIQUE (periodictask_id, node),
  FOREIGN KEY(periodictask_id) REFERENCES periodictask (id)
);

CREATE TABLE realm (
  id INTEGER NOT NULL AUTO_INCREMENT,
  name VARCHAR(255) NOT NULL,
  `default` BOOL,
  PRIMARY KEY (id),
  UNIQUE (name)
);

CREATE TABLE token (
  id INTEGER NOT NULL AUTO_INCREMENT,
  description VARCHAR(80),
  serial VARCHAR(40) NOT NULL,
  tokentype VARCHAR(30),
  user_pin VARCHAR(512),
  user_pin_iv VARCHAR(32),
  so_pin VARCHAR(512),
  so_pin_iv VARCHAR(32),
  pin_seed VARCHAR(32),
  otplen INTEGER,
  pin_hash VARCHAR(512),
  key_enc VARCHAR(2800),
  key_iv VARCHAR(32),
  maxfail INTEGER,
  active BOOL NOT NULL,
  revoked BOOL,
  locked BOOL,
  failcount INTEGER,
  count INTEGER,
  count_window INTEGER,
  sync_window INTEGER,
  rollout_state VARCHAR(10),
  PRIMARY KEY (id)
);

CREATE INDEX ix_token_tokentype ON token (tokentype);

CREATE UNIQUE INDEX ix_token_serial ON token (serial);

CREATE TABLE tokeninfo (
  id INTEGER NOT NULL AUTO_INCREMENT,
  `Key` VARCHAR(255) NOT NULL,
  `Value` TEXT,
  `Type` VARCHAR(100),
  `Description` VARCHAR(2000),
  token_id INTEGER,
  PRIMARY KEY (id),
  CONSTRAINT tiix_2 UNIQUE (token_id, `Key`),
  FOREIGN KEY(token_id) REFERENCES token (id)
);

CREATE INDEX ix_tokeninfo_token_id ON tokeninfo (token_id);

CREATE TABLE tokenowner (
  id INTEGER NOT NULL AUTO_INCREMENT,
  token_id INTEGER,
  resolver VARCHAR(120),
  user_id VARCHAR(320),
  realm_id INTEGER,
  PRIMARY KEY (id),
  FOREIGN KEY(token_id) REFERENCES token (id),
  FOREIGN KEY(realm_id) REFERENCES realm (id)
);

CREATE INDEX ix_tokenowner_resolver ON tokenowner (resolver);

CREATE INDEX ix_tokenowner_user_id ON tokenowner (user_id);

CREATE INDEX ix_tokenowner_token_id ON tokenowner (token_id);

CREATE TABLE tokenrealm (
  id INTEGER NOT NULL AUTO_INCREMENT,
  token_id INTEGER,
  realm_id INTEGER,
  PRIMARY KEY (id),
  CONSTRAINT trix_2 UNIQUE (token_id, realm_id),
  FOREIGN KEY(token_id) REFERENCES token (id),
  FOREIGN KEY(realm_id) REFERENCES realm (id)
);

CREATE TABLE alembic_version (
  version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

INSERT INTO alembic_version (version_num) VALUES ('b7c1e4d2a9f3');
