/** Where files and commands live: the Target API, this machine (LocalTarget), a host over OpenSSH (SshTarget). */
export * from './local.js';
export * from './open.js';
export * from './ssh.js';
export * from './target.js';
