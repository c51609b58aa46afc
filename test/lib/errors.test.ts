/**
 * Error messages are sentences naming the field and the value: `field "value": reason`, or `field: reason`
 * when no value was given; never an `undefined` value, never the class name in front.
 */
import { expect } from 'chai';
import { IpamError, invalid, show } from '../../lib/errors';
import { Ipam } from '../../lib/ipam';
import { failure } from '../support/failure';
import { embeddedMemory } from '../support/stores';

describe('error messages', () => {
  it('name the field and the quoted value, or only the field when no value was given', () => {
    expect(invalid('network', '10.0.0.0/33', 'prefix length must be 0 to 32').message).to.equal('network "10.0.0.0/33": prefix length must be 0 to 32');
    expect(invalid('network', undefined, 'is required').message).to.equal('network: is required');
    expect(invalid('network', '', 'is required').message).to.equal('network: is required');
    expect(invalid('limit', 0, 'must be a whole number').message).to.equal('limit 0: must be a whole number');
    expect(show(undefined)).to.equal('no value');
  });

  it('String(err), which Node-RED puts in msg.error.message, is the message alone', () => {
    const err = invalid('network', undefined, 'is required');
    expect(String(err)).to.equal('network: is required');
    expect(`${new IpamError('NOT_FOUND', 'address id "x" not found')}`).to.equal('address id "x" not found');
  });

  describe('from the operations', () => {
    let ipam: Ipam;
    beforeEach(async () => {
      ipam = Ipam.over(await embeddedMemory.open());
    });
    afterEach(() => ipam.close());

    const cases: [string, Parameters<Ipam['perform']>, string][] = [
      ['a missing network', ['block', 'add', {}], 'network: is required'],
      ['an impossible prefix', ['block', 'add', { network: '10.0.0.0/33' }], 'network "10.0.0.0/33": '],
      ['a missing address', ['address', 'add', {}], 'address: is required'],
      ['an unknown filter field', ['address', 'list', { colour: 'red' }], 'filter.colour "red": is not an address field'],
      ['an unknown range filter field', ['range', 'list', { colour: 'red' }], 'filter.colour "red": is not a range field'],
      ['an unknown field', ['range', 'add', { network: '10.0.0.0/24', colour: 'red' }], 'colour "red": is not a known field'],
      ['a block cover set by hand', ['block', 'add', { network: '11.0.0.0/8', rangedSize: '999' }], 'rangedSize "999": is not a known field'],
      ['a range counter set by hand', ['range', 'add', { network: '10.0.0.0/24', assignedCount: 5 }], 'assignedCount 5: is not a known field'],
      ['a payload that is not an object', ['address', 'add', 42], 'payload 42: must be an object of address fields'],
      ['an unknown operation', ['block', 'explode', {}], 'operation "explode": must be one of add, update, get, list, delete, utilization'],
      ['an unknown CSV column', ['import', 'import', { entity: 'blocks', csv: 'Colour\nred' }], 'header "Colour": is neither a block field nor a defined custom field'],
    ];
    for (const [what, args, start] of cases) {
      it(`${what}: ${JSON.stringify(start)}…`, async () => {
        const err = await failure(ipam.perform(...args));
        expect(err).to.be.instanceOf(IpamError);
        expect(err.message.startsWith(start), err.message).to.equal(true);
        expect(err.message).not.to.match(/\bundefined\b|IpamError/);
        expect(err.message).to.contain(err.field!.split('.')[0]);
      });
    }
  });
});
