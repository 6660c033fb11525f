//! Checking argument counts and decoding text arguments, with errors naming the function and position.

use device_record::normalise_uuid;

use crate::error::ContractError;

/// The arguments of one call, with what the function expects.
pub(crate) struct Args<'a> {
    function: &'static str,
    args: &'a [Vec<u8>],
}

impl<'a> Args<'a> {
    /// Accepts between `min` and `max` arguments; `usage` describes them for the error.
    pub(crate) fn new(
        function: &'static str,
        args: &'a [Vec<u8>],
        min: usize,
        max: usize,
        usage: &'static str,
    ) -> Result<Self, ContractError> {
        if args.len() < min || args.len() > max {
            return Err(ContractError::ArgumentCount {
                function,
                expected: usage,
                given: args.len(),
            });
        }
        Ok(Args { function, args })
    }

    pub(crate) fn function(&self) -> &'static str {
        self.function
    }

    pub(crate) fn bytes(&self, position: usize) -> Option<&'a [u8]> {
        self.args.get(position).map(Vec::as_slice)
    }

    /// The argument at `position` (0-based) as UTF-8 text, if present.
    pub(crate) fn text(
        &self,
        position: usize,
        name: &'static str,
    ) -> Result<Option<&'a str>, ContractError> {
        match self.args.get(position) {
            None => Ok(None),
            Some(b) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|e| self.bad(position, name, format!("not UTF-8 text: {e}"))),
        }
    }

    /// A required text argument.
    pub(crate) fn required_text(
        &self,
        position: usize,
        name: &'static str,
    ) -> Result<&'a str, ContractError> {
        self.text(position, name)?
            .ok_or_else(|| self.bad(position, name, "missing".to_string()))
    }

    /// A required device UUID, normalised to lowercase.
    pub(crate) fn uuid(&self, position: usize) -> Result<String, ContractError> {
        Ok(normalise_uuid(self.required_text(position, "uuid")?)?)
    }

    pub(crate) fn bad(&self, position: usize, name: &'static str, reason: String) -> ContractError {
        ContractError::BadArgument {
            function: self.function,
            position: position + 1,
            name,
            reason,
        }
    }
}
