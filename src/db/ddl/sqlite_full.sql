-- privacyIDEA 3.14 schema for SQLite: the '.schema' of a database made by the release's 'pi-manage setup create_tables' (shared/vectors/db/schema-sqlite.sql).
CREATE TABLE pidea_audit (
	id INTEGER NOT NULL, 
	date DATETIME, 
	startdate DATETIME, 
	duration DATETIME, 
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
CREATE INDEX ix_pidea_audit_user ON pidea_audit (user);
CREATE INDEX ix_pidea_audit_date ON pidea_audit (date);
CREATE TABLE authentication_log (
	id INTEGER NOT NULL, 
	resolver VARCHAR(120), 
	uid VARCHAR(320), 
	realm VARCHAR(255), 
	username VARCHAR(255), 
	user_role VARCHAR(30), 
	event_type VARCHAR(40) NOT NULL, 
	timestamp DATETIME NOT NULL, 
	source_ip VARCHAR(50), 
	peer_ip VARCHAR(50), 
	source_ip_source VARCHAR(40), 
	client_label VARCHAR(1024), 
	client_label_source VARCHAR(40), 
	ip_chain JSON, 
	endpoint VARCHAR(255), 
	serial VARCHAR(1024), 
	transaction_id VARCHAR(64), 
	attempt_id VARCHAR(64), 
	other_info JSON, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_authlog_ip_event_time ON authentication_log (source_ip, event_type, timestamp);
CREATE INDEX ix_authlog_time ON authentication_log (timestamp);
CREATE INDEX ix_authlog_peer_ip_time ON authentication_log (peer_ip, timestamp);
CREATE INDEX ix_authlog_user_event_time ON authentication_log (resolver, uid, realm, event_type, timestamp);
CREATE INDEX ix_authlog_admin_event_time ON authentication_log (username, user_role, event_type, timestamp);
CREATE INDEX ix_authlog_user_time ON authentication_log (resolver, uid, realm, timestamp);
CREATE INDEX ix_authlog_admin_time ON authentication_log (username, user_role, timestamp);
CREATE INDEX ix_authlog_ip_time ON authentication_log (source_ip, timestamp);
CREATE TABLE authcache (
	id INTEGER NOT NULL, 
	first_auth DATETIME, 
	last_auth DATETIME, 
	username VARCHAR(64), 
	resolver VARCHAR(120), 
	realm VARCHAR(120), 
	client_ip VARCHAR(40), 
	user_agent VARCHAR(120), 
	auth_count INTEGER, 
	authentication VARCHAR(255), 
	PRIMARY KEY (id)
);
CREATE INDEX ix_authcache_realm ON authcache (realm);
CREATE INDEX ix_authcache_last_auth ON authcache (last_auth);
CREATE INDEX ix_authcache_username ON authcache (username);
CREATE INDEX ix_authcache_first_auth ON authcache (first_auth);
CREATE INDEX ix_authcache_resolver ON authcache (resolver);
CREATE TABLE usercache (
	id INTEGER NOT NULL, 
	username VARCHAR(64), 
	used_login VARCHAR(64), 
	resolver VARCHAR(120), 
	user_id VARCHAR(320), 
	timestamp DATETIME, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_usercache_username ON usercache (username);
CREATE INDEX ix_usercache_timestamp ON usercache (timestamp);
CREATE INDEX ix_usercache_user_id ON usercache (user_id);
CREATE INDEX ix_usercache_used_login ON usercache (used_login);
CREATE TABLE config (
	"Key" VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000), 
	"Type" VARCHAR(2000), 
	"Description" VARCHAR(2000), 
	PRIMARY KEY ("Key")
);
CREATE TABLE nodename (
	id VARCHAR(36) NOT NULL, 
	name VARCHAR(100), 
	lastseen DATETIME, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_nodename_name ON nodename (name);
CREATE INDEX ix_nodename_lastseen ON nodename (lastseen);
CREATE TABLE admin (
	username VARCHAR(120) NOT NULL, 
	password VARCHAR(255), 
	email VARCHAR(255), 
	PRIMARY KEY (username)
);
CREATE TABLE passwordreset (
	id INTEGER NOT NULL, 
	recoverycode VARCHAR(255) NOT NULL, 
	username VARCHAR(64) NOT NULL, 
	realm VARCHAR(64) NOT NULL, 
	resolver VARCHAR(64), 
	email VARCHAR(255), 
	timestamp DATETIME, 
	expiration DATETIME, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_passwordreset_realm ON passwordreset (realm);
CREATE INDEX ix_passwordreset_username ON passwordreset (username);
CREATE TABLE caconnector (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	catype VARCHAR(255) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE challenge (
	id INTEGER NOT NULL, 
	transaction_id VARCHAR(64) NOT NULL, 
	data TEXT, 
	challenge TEXT, 
	"session" VARCHAR(512), 
	serial VARCHAR(40), 
	timestamp DATETIME, 
	expiration DATETIME, 
	received_count INTEGER, 
	otp_valid BOOLEAN, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_challenge_transaction_id ON challenge (transaction_id);
CREATE INDEX ix_challenge_expiration ON challenge (expiration);
CREATE INDEX ix_challenge_serial ON challenge (serial);
CREATE INDEX ix_challenge_timestamp ON challenge (timestamp);
CREATE TABLE clients (
	id VARCHAR(36) NOT NULL, 
	display_name VARCHAR(255) NOT NULL, 
	client_type VARCHAR(64) NOT NULL, 
	key_id VARCHAR(32) NOT NULL, 
	key_hash VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_used_at DATETIME, 
	config JSON NOT NULL, 
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_clients_key_id ON clients (key_id);
CREATE TABLE eventhandler (
	id INTEGER NOT NULL, 
	name VARCHAR(64), 
	active BOOLEAN, 
	ordering INTEGER NOT NULL, 
	position VARCHAR(10), 
	abort_on_error BOOLEAN, 
	event VARCHAR(255) NOT NULL, 
	handlermodule VARCHAR(255) NOT NULL, 
	condition VARCHAR(1024), 
	action VARCHAR(1024), 
	PRIMARY KEY (id)
);
CREATE TABLE eventcounter (
	id INTEGER NOT NULL, 
	counter_name VARCHAR(80) NOT NULL, 
	counter_value INTEGER, 
	node VARCHAR(255) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT evctr_1 UNIQUE (counter_name, node)
);
CREATE TABLE conditional_access_policies (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	time_window_seconds INTEGER NOT NULL, 
	enabled BOOLEAN NOT NULL, 
	dry_run BOOLEAN NOT NULL, 
	priority INTEGER NOT NULL, 
	target VARCHAR(100) NOT NULL, 
	count_mode VARCHAR(20) NOT NULL, 
	reset_on_success BOOLEAN NOT NULL, 
	enforced_since DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_ca_policy_priority UNIQUE (priority), 
	UNIQUE (name)
);
CREATE TABLE user_lock_state (
	resolver VARCHAR(120) NOT NULL, 
	uid VARCHAR(320) NOT NULL, 
	realm VARCHAR(255) NOT NULL, 
	username VARCHAR(255), 
	user_role VARCHAR(20) NOT NULL, 
	lock_expires_at DATETIME, 
	lock_cause VARCHAR(20) NOT NULL, 
	error_message VARCHAR(500), 
	locked_at DATETIME NOT NULL, 
	PRIMARY KEY (resolver, uid, realm)
);
CREATE TABLE block_list (
	ip VARCHAR(50) NOT NULL, 
	block_expires_at DATETIME, 
	block_cause VARCHAR(20) NOT NULL, 
	error_message VARCHAR(500), 
	blocked_at DATETIME NOT NULL, 
	PRIMARY KEY (ip)
);
CREATE TABLE resolver (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	rtype VARCHAR(255) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE realm (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	"default" BOOLEAN, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE token (
	id INTEGER NOT NULL, 
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
	active BOOLEAN NOT NULL, 
	revoked BOOLEAN, 
	locked BOOLEAN, 
	failcount INTEGER, 
	count INTEGER, 
	count_window INTEGER, 
	sync_window INTEGER, 
	rollout_state VARCHAR(10), 
	PRIMARY KEY (id)
);
CREATE INDEX ix_token_tokentype ON token (tokentype);
CREATE UNIQUE INDEX ix_token_serial ON token (serial);
CREATE TABLE machineresolver (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	rtype VARCHAR(255) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE metric_aggregate (
	id INTEGER NOT NULL, 
	metric_name VARCHAR(128) NOT NULL, 
	labels_key TEXT NOT NULL, 
	labels_hash VARCHAR(64) NOT NULL, 
	node VARCHAR(255) NOT NULL, 
	window_start DATETIME NOT NULL, 
	count BIGINT NOT NULL, 
	sum_value FLOAT NOT NULL, 
	max_value FLOAT NOT NULL, 
	bucket_le_50ms BIGINT NOT NULL, 
	bucket_le_100ms BIGINT NOT NULL, 
	bucket_le_150ms BIGINT NOT NULL, 
	bucket_le_200ms BIGINT NOT NULL, 
	bucket_le_250ms BIGINT NOT NULL, 
	bucket_le_500ms BIGINT NOT NULL, 
	bucket_le_1s BIGINT NOT NULL, 
	bucket_le_2s BIGINT NOT NULL, 
	bucket_le_5s BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT metricagg_uix UNIQUE (metric_name, labels_hash, node, window_start)
);
CREATE INDEX ix_metric_aggregate_window_start ON metric_aggregate (window_start);
CREATE INDEX ix_metric_aggregate_metric_name ON metric_aggregate (metric_name);
CREATE TABLE monitoringstats (
	id INTEGER NOT NULL, 
	timestamp DATETIME NOT NULL, 
	stats_key VARCHAR(128) NOT NULL, 
	stats_value INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT msix_1 UNIQUE (timestamp, stats_key)
);
CREATE INDEX ix_monitoringstats_timestamp ON monitoringstats (timestamp);
CREATE TABLE periodictask (
	id INTEGER NOT NULL, 
	name VARCHAR(64) NOT NULL, 
	active BOOLEAN NOT NULL, 
	retry_if_failed BOOLEAN NOT NULL, 
	interval VARCHAR(256) NOT NULL, 
	nodes VARCHAR(256) NOT NULL, 
	taskmodule VARCHAR(256) NOT NULL, 
	ordering INTEGER NOT NULL, 
	last_update DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE policy (
	id INTEGER NOT NULL, 
	active BOOLEAN, 
	check_all_resolvers BOOLEAN, 
	name VARCHAR(64) NOT NULL, 
	user_case_insensitive BOOLEAN, 
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
CREATE TABLE privacyideaserver (
	id INTEGER NOT NULL, 
	identifier VARCHAR(255) NOT NULL, 
	url VARCHAR(255) NOT NULL, 
	tls BOOLEAN, 
	description VARCHAR(2000), 
	PRIMARY KEY (id), 
	UNIQUE (identifier)
);
CREATE TABLE radiusserver (
	id INTEGER NOT NULL, 
	identifier VARCHAR(255) NOT NULL, 
	server VARCHAR(255) NOT NULL, 
	port INTEGER, 
	secret VARCHAR(255), 
	dictionary VARCHAR(255), 
	description VARCHAR(2000), 
	timeout INTEGER, 
	retries INTEGER, 
	options JSON, 
	PRIMARY KEY (id), 
	UNIQUE (identifier)
);
CREATE TABLE smtpserver (
	id INTEGER NOT NULL, 
	identifier VARCHAR(255) NOT NULL, 
	server VARCHAR(255) NOT NULL, 
	port INTEGER, 
	username VARCHAR(255), 
	password VARCHAR(255), 
	sender VARCHAR(255), 
	tls BOOLEAN, 
	description VARCHAR(2000), 
	timeout INTEGER, 
	enqueue_job BOOLEAN NOT NULL, 
	smime BOOLEAN NOT NULL, 
	dont_send_on_error BOOLEAN NOT NULL, 
	private_key VARCHAR(255), 
	private_key_password VARCHAR(255), 
	certificate VARCHAR(255), 
	PRIMARY KEY (id)
);
CREATE TABLE serviceid (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	"Description" VARCHAR(2000), 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE smsgateway (
	id INTEGER NOT NULL, 
	identifier VARCHAR(255) NOT NULL, 
	description VARCHAR(1024), 
	providermodule VARCHAR(1024) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (identifier)
);
CREATE TABLE clientapplication (
	id INTEGER NOT NULL, 
	ip VARCHAR(255) NOT NULL, 
	hostname VARCHAR(255), 
	clienttype VARCHAR(255) NOT NULL, 
	lastseen DATETIME, 
	node VARCHAR(255) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT caix UNIQUE (ip, clienttype, node)
);
CREATE INDEX ix_clientapplication_ip ON clientapplication (ip);
CREATE INDEX ix_clientapplication_clienttype ON clientapplication (clienttype);
CREATE INDEX ix_clientapplication_lastseen ON clientapplication (lastseen);
CREATE TABLE subscription (
	id INTEGER NOT NULL, 
	application VARCHAR(80), 
	for_name VARCHAR(80) NOT NULL, 
	for_address VARCHAR(128), 
	for_email VARCHAR(128) NOT NULL, 
	for_phone VARCHAR(50) NOT NULL, 
	for_url VARCHAR(80), 
	for_comment VARCHAR(255), 
	by_name VARCHAR(50) NOT NULL, 
	by_email VARCHAR(128) NOT NULL, 
	by_address VARCHAR(128), 
	by_phone VARCHAR(50), 
	by_url VARCHAR(80), 
	date_from DATETIME, 
	date_till DATETIME, 
	num_users INTEGER, 
	num_tokens INTEGER, 
	num_clients INTEGER, 
	level VARCHAR(80), 
	signature VARCHAR(640), 
	PRIMARY KEY (id)
);
CREATE INDEX ix_subscription_application ON subscription (application);
CREATE TABLE tokencontainertemplate (
	id INTEGER NOT NULL, 
	options VARCHAR(2000), 
	name VARCHAR(200), 
	container_type VARCHAR(100) NOT NULL, 
	"default" BOOLEAN NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE tokengroup (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	"Description" VARCHAR(2000), 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE authentication_log_reason (
	id INTEGER NOT NULL, 
	auth_log_id INTEGER NOT NULL, 
	reason VARCHAR(40) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(auth_log_id) REFERENCES authentication_log (id) ON DELETE CASCADE
);
CREATE INDEX ix_authlog_reason_reason ON authentication_log_reason (reason, auth_log_id);
CREATE INDEX ix_authlog_reason_authlog ON authentication_log_reason (auth_log_id);
CREATE TABLE caconnectorconfig (
	id INTEGER NOT NULL, 
	caconnector_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000), 
	"Type" VARCHAR(2000), 
	"Description" VARCHAR(2000), 
	PRIMARY KEY (id), 
	CONSTRAINT ccix_2 UNIQUE (caconnector_id, "Key"), 
	FOREIGN KEY(caconnector_id) REFERENCES caconnector (id)
);
CREATE TABLE remembered_devices (
	series_id VARCHAR(64) NOT NULL, 
	device_id VARCHAR(64) NOT NULL, 
	counter INTEGER NOT NULL, 
	client_id VARCHAR(36) NOT NULL, 
	resolver VARCHAR(120) NOT NULL, 
	user_id VARCHAR(320) NOT NULL, 
	realm_id INTEGER NOT NULL, 
	ip_address VARCHAR(64), 
	user_agent VARCHAR(255), 
	created_at DATETIME NOT NULL, 
	last_used_at DATETIME, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (series_id), 
	UNIQUE (device_id), 
	FOREIGN KEY(client_id) REFERENCES clients (id) ON DELETE CASCADE, 
	FOREIGN KEY(realm_id) REFERENCES realm (id) ON DELETE CASCADE
);
CREATE INDEX ix_remembered_devices_realm_id ON remembered_devices (realm_id);
CREATE INDEX ix_remembered_devices_client_id ON remembered_devices (client_id);
CREATE INDEX ix_remembered_devices_resolver ON remembered_devices (resolver);
CREATE INDEX ix_remembered_devices_identity ON remembered_devices (client_id, resolver, user_id, realm_id);
CREATE INDEX ix_remembered_devices_expires_at ON remembered_devices (expires_at);
CREATE INDEX ix_remembered_devices_user_id ON remembered_devices (user_id);
CREATE INDEX ix_remembered_devices_client_created ON remembered_devices (client_id, created_at);
CREATE TABLE conditional_access_outcome (
	id INTEGER NOT NULL, 
	auth_log_id INTEGER NOT NULL, 
	action_type VARCHAR(100) NOT NULL, 
	dry_run BOOLEAN NOT NULL, 
	policy_name VARCHAR(255) NOT NULL, 
	threshold INTEGER NOT NULL, 
	event_count INTEGER NOT NULL, 
	stage_name VARCHAR(255), 
	info JSON, 
	PRIMARY KEY (id), 
	FOREIGN KEY(auth_log_id) REFERENCES authentication_log (id) ON DELETE CASCADE
);
CREATE INDEX ix_ca_outcome_authlog ON conditional_access_outcome (auth_log_id);
CREATE INDEX ix_ca_outcome_action ON conditional_access_outcome (action_type);
CREATE TABLE customuserattribute (
	id INTEGER NOT NULL, 
	user_id VARCHAR(320), 
	resolver VARCHAR(120), 
	realm_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" TEXT, 
	"Type" VARCHAR(100), 
	PRIMARY KEY (id), 
	FOREIGN KEY(realm_id) REFERENCES realm (id)
);
CREATE INDEX ix_customuserattribute_user_id ON customuserattribute (user_id);
CREATE INDEX ix_customuserattribute_resolver ON customuserattribute (resolver);
CREATE TABLE internaluserattribute (
	id INTEGER NOT NULL, 
	user_id VARCHAR(320), 
	resolver VARCHAR(120), 
	realm_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" JSON, 
	last_modified DATETIME, 
	node VARCHAR(120), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_internaluserattribute_user_key UNIQUE (user_id, resolver, realm_id, "Key"), 
	FOREIGN KEY(realm_id) REFERENCES realm (id) ON DELETE CASCADE
);
CREATE TABLE eventhandlercondition (
	id INTEGER NOT NULL, 
	eventhandler_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000), 
	comparator VARCHAR(255), 
	PRIMARY KEY (id), 
	CONSTRAINT ehcix_1 UNIQUE (eventhandler_id, "Key"), 
	FOREIGN KEY(eventhandler_id) REFERENCES eventhandler (id)
);
CREATE TABLE eventhandleroption (
	id INTEGER NOT NULL, 
	eventhandler_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000), 
	"Type" VARCHAR(2000), 
	"Description" VARCHAR(2000), 
	PRIMARY KEY (id), 
	CONSTRAINT ehoix_1 UNIQUE (eventhandler_id, "Key"), 
	FOREIGN KEY(eventhandler_id) REFERENCES eventhandler (id)
);
CREATE TABLE conditional_access_policy_conditions (
	id INTEGER NOT NULL, 
	policy_id INTEGER NOT NULL, 
	condition_type VARCHAR(50) NOT NULL, 
	operator VARCHAR(20) NOT NULL, 
	value JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_ca_condition_policy UNIQUE (policy_id, condition_type), 
	FOREIGN KEY(policy_id) REFERENCES conditional_access_policies (id) ON DELETE CASCADE
);
CREATE INDEX ix_conditional_access_policy_conditions_policy_id ON conditional_access_policy_conditions (policy_id);
CREATE TABLE conditional_access_policy_counter_types (
	id INTEGER NOT NULL, 
	policy_id INTEGER NOT NULL, 
	counter_type VARCHAR(100) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_ca_counter_type_policy UNIQUE (policy_id, counter_type), 
	FOREIGN KEY(policy_id) REFERENCES conditional_access_policies (id) ON DELETE CASCADE
);
CREATE INDEX ix_ca_counter_type_lookup ON conditional_access_policy_counter_types (counter_type, policy_id);
CREATE TABLE conditional_access_policy_stages (
	id INTEGER NOT NULL, 
	policy_id INTEGER NOT NULL, 
	name VARCHAR(255), 
	error_message VARCHAR(500), 
	failure_threshold INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_ca_stage_policy_threshold UNIQUE (policy_id, failure_threshold), 
	FOREIGN KEY(policy_id) REFERENCES conditional_access_policies (id) ON DELETE CASCADE
);
CREATE TABLE resolverconfig (
	id INTEGER NOT NULL, 
	resolver_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000), 
	"Type" VARCHAR(2000), 
	"Description" VARCHAR(2000), 
	PRIMARY KEY (id), 
	CONSTRAINT rcix_2 UNIQUE (resolver_id, "Key"), 
	FOREIGN KEY(resolver_id) REFERENCES resolver (id)
);
CREATE TABLE resolverrealm (
	id INTEGER NOT NULL, 
	resolver_id INTEGER, 
	realm_id INTEGER, 
	priority INTEGER, 
	node_uuid VARCHAR(36), 
	PRIMARY KEY (id), 
	CONSTRAINT rrix_2 UNIQUE (resolver_id, realm_id, node_uuid), 
	FOREIGN KEY(resolver_id) REFERENCES resolver (id), 
	FOREIGN KEY(realm_id) REFERENCES realm (id)
);
CREATE TABLE tokencredentialidhash (
	id INTEGER NOT NULL, 
	credential_id_hash VARCHAR(256) NOT NULL, 
	token_id INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(token_id) REFERENCES token (id)
);
CREATE UNIQUE INDEX ix_tokencredentialidhash_credentialidhash ON tokencredentialidhash (credential_id_hash);
CREATE TABLE tokeninfo (
	id INTEGER NOT NULL, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" TEXT, 
	"Type" VARCHAR(100), 
	"Description" VARCHAR(2000), 
	token_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT tiix_2 UNIQUE (token_id, "Key"), 
	FOREIGN KEY(token_id) REFERENCES token (id)
);
CREATE INDEX ix_tokeninfo_token_id ON tokeninfo (token_id);
CREATE TABLE tokenowner (
	id INTEGER NOT NULL, 
	token_id INTEGER, 
	resolver VARCHAR(120), 
	user_id VARCHAR(320), 
	realm_id INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(token_id) REFERENCES token (id), 
	FOREIGN KEY(realm_id) REFERENCES realm (id)
);
CREATE INDEX ix_tokenowner_token_id ON tokenowner (token_id);
CREATE INDEX ix_tokenowner_resolver ON tokenowner (resolver);
CREATE INDEX ix_tokenowner_user_id ON tokenowner (user_id);
CREATE TABLE tokenrealm (
	id INTEGER NOT NULL, 
	token_id INTEGER, 
	realm_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT trix_2 UNIQUE (token_id, realm_id), 
	FOREIGN KEY(token_id) REFERENCES token (id), 
	FOREIGN KEY(realm_id) REFERENCES realm (id)
);
CREATE TABLE machineresolverconfig (
	id INTEGER NOT NULL, 
	resolver_id INTEGER, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000), 
	"Type" VARCHAR(2000), 
	"Description" VARCHAR(2000), 
	PRIMARY KEY (id), 
	CONSTRAINT mrcix_2 UNIQUE (resolver_id, "Key"), 
	FOREIGN KEY(resolver_id) REFERENCES machineresolver (id)
);
CREATE TABLE machinetoken (
	id INTEGER NOT NULL, 
	token_id INTEGER, 
	machineresolver_id INTEGER, 
	machine_id VARCHAR(255), 
	application VARCHAR(64), 
	PRIMARY KEY (id), 
	FOREIGN KEY(token_id) REFERENCES token (id)
);
CREATE TABLE periodictaskoption (
	id INTEGER NOT NULL, 
	periodictask_id INTEGER, 
	"key" VARCHAR(255) NOT NULL, 
	value VARCHAR(2000), 
	PRIMARY KEY (id), 
	CONSTRAINT ptoix_1 UNIQUE (periodictask_id, "key"), 
	FOREIGN KEY(periodictask_id) REFERENCES periodictask (id)
);
CREATE TABLE periodictasklastrun (
	id INTEGER NOT NULL, 
	periodictask_id INTEGER, 
	node VARCHAR(255) NOT NULL, 
	timestamp DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT ptlrix_1 UNIQUE (periodictask_id, node), 
	FOREIGN KEY(periodictask_id) REFERENCES periodictask (id)
);
CREATE TABLE policycondition (
	id INTEGER NOT NULL, 
	policy_id INTEGER NOT NULL, 
	section VARCHAR(255) NOT NULL, 
	"Key" VARCHAR(255) NOT NULL, 
	comparator VARCHAR(255) NOT NULL, 
	"Value" VARCHAR(2000) NOT NULL, 
	active BOOLEAN NOT NULL, 
	handle_missing_data VARCHAR(255), 
	PRIMARY KEY (id), 
	FOREIGN KEY(policy_id) REFERENCES policy (id)
);
CREATE TABLE description (
	id INTEGER NOT NULL, 
	object_id INTEGER NOT NULL, 
	object_type VARCHAR(64) NOT NULL, 
	last_update DATETIME, 
	description TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(object_id) REFERENCES policy (id)
);
CREATE TABLE smsgatewayoption (
	id INTEGER NOT NULL, 
	"Key" VARCHAR(255) NOT NULL, 
	"Value" TEXT, 
	"Type" VARCHAR(100), 
	"Encrypted" BOOLEAN DEFAULT '0' NOT NULL, 
	gateway_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT sgix_1 UNIQUE (gateway_id, "Key", "Type"), 
	FOREIGN KEY(gateway_id) REFERENCES smsgateway (id)
);
CREATE INDEX ix_smsgatewayoption_gateway_id ON smsgatewayoption (gateway_id);
CREATE TABLE tokencontainer (
	id INTEGER NOT NULL, 
	type VARCHAR(100) NOT NULL, 
	description VARCHAR(1024), 
	serial VARCHAR(40) NOT NULL, 
	last_seen DATETIME, 
	last_updated DATETIME, 
	template_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT tokencontainertemplate_id FOREIGN KEY(template_id) REFERENCES tokencontainertemplate (id)
);
CREATE UNIQUE INDEX ix_tokencontainer_serial ON tokencontainer (serial);
CREATE TABLE tokentokengroup (
	id INTEGER NOT NULL, 
	token_id INTEGER, 
	tokengroup_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT ttgix_2 UNIQUE (token_id, tokengroup_id), 
	FOREIGN KEY(token_id) REFERENCES token (id), 
	FOREIGN KEY(tokengroup_id) REFERENCES tokengroup (id)
);
CREATE TABLE usersetting (
	id INTEGER NOT NULL, 
	subject_type VARCHAR(20) NOT NULL, 
	username VARCHAR(320), 
	user_id VARCHAR(320), 
	resolver VARCHAR(120), 
	realm_id INTEGER, 
	subject_hash VARCHAR(64) NOT NULL, 
	settings JSON, 
	last_modified DATETIME, 
	node VARCHAR(120), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_usersetting_subject UNIQUE (subject_hash), 
	FOREIGN KEY(realm_id) REFERENCES realm (id) ON DELETE CASCADE
);
CREATE INDEX ix_usersetting_subject_type_username ON usersetting (subject_type, username);
CREATE INDEX ix_usersetting_user ON usersetting (user_id, resolver, realm_id);
CREATE TABLE conditional_access_stage_actions (
	id INTEGER NOT NULL, 
	stage_id INTEGER NOT NULL, 
	action_type VARCHAR(100) NOT NULL, 
	action_value JSON, 
	retrigger_above_threshold BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(stage_id) REFERENCES conditional_access_policy_stages (id) ON DELETE CASCADE
);
CREATE INDEX ix_conditional_access_stage_actions_stage_id ON conditional_access_stage_actions (stage_id);
CREATE TABLE machinetokenoptions (
	id INTEGER NOT NULL, 
	machinetoken_id INTEGER, 
	mt_key VARCHAR(64) NOT NULL, 
	mt_value VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(machinetoken_id) REFERENCES machinetoken (id)
);
CREATE TABLE tokencontainerowner (
	id INTEGER NOT NULL, 
	container_id INTEGER, 
	resolver VARCHAR(120), 
	user_id VARCHAR(320), 
	realm_id INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(container_id) REFERENCES tokencontainer (id), 
	FOREIGN KEY(realm_id) REFERENCES realm (id)
);
CREATE INDEX ix_tokencontainerowner_user_id ON tokencontainerowner (user_id);
CREATE INDEX ix_tokencontainerowner_resolver ON tokencontainerowner (resolver);
CREATE TABLE tokencontainerstates (
	id INTEGER NOT NULL, 
	container_id INTEGER, 
	state VARCHAR(100) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(container_id) REFERENCES tokencontainer (id)
);
CREATE TABLE tokencontainerinfo (
	id INTEGER NOT NULL, 
	"key" VARCHAR(255) NOT NULL, 
	value TEXT, 
	type VARCHAR(100), 
	description VARCHAR(2000), 
	container_id INTEGER, 
	PRIMARY KEY (id), 
	CONSTRAINT container_id_constraint UNIQUE (container_id, "key"), 
	FOREIGN KEY(container_id) REFERENCES tokencontainer (id)
);
CREATE INDEX ix_tokencontainerinfo_container_id ON tokencontainerinfo (container_id);
CREATE TABLE tokencontainerrealm (
	container_id INTEGER NOT NULL, 
	realm_id INTEGER NOT NULL, 
	PRIMARY KEY (container_id, realm_id), 
	FOREIGN KEY(container_id) REFERENCES tokencontainer (id), 
	FOREIGN KEY(realm_id) REFERENCES realm (id)
);
CREATE TABLE tokencontainertoken (
	token_id INTEGER NOT NULL, 
	container_id INTEGER NOT NULL, 
	PRIMARY KEY (token_id, container_id), 
	FOREIGN KEY(token_id) REFERENCES token (id), 
	FOREIGN KEY(container_id) REFERENCES tokencontainer (id)
);
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('b7c1e4d2a9f3');
